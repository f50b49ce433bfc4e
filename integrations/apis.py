"""Management API (token auth, staff only): sources and the event log."""

import django_filters
from rest_framework import serializers, viewsets
from rest_framework.pagination import CursorPagination

from integrations.models import InboundEvent, Source, WriteKey


class WriteKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = WriteKey
        fields = ["id", "hint", "label", "enabled", "created_at"]


class SourceSerializer(serializers.ModelSerializer):
    write_keys = WriteKeySerializer(many=True, read_only=True)

    class Meta:
        model = Source
        fields = ["id", "name", "slug", "enabled", "created_at", "write_keys"]


class InboundEventSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField[Source](slug_field="slug", read_only=True)  # type: ignore[assignment]

    class Meta:
        model = InboundEvent
        fields = [
            "id",
            "source",
            "message_id",
            "type",
            "user_id",
            "anonymous_id",
            "event",
            "status",
            "reason",
            "received_at",
            "timestamp",
            "original_timestamp",
            "sent_at",
            "processed_at",
            "attempts",
            "payload",
        ]


class SourceViewSet(viewsets.ReadOnlyModelViewSet):
    """Configured sources with their write keys (masked)."""

    queryset = Source.objects.prefetch_related("write_keys").order_by("name")
    serializer_class = SourceSerializer
    filterset_fields = ["slug", "enabled"]


class InboundEventFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__slug", help_text="Source slug.")

    class Meta:
        model = InboundEvent
        fields = ["source", "type", "status", "message_id", "user_id"]


class EventPagination(CursorPagination):
    """Cursor pages: stable and cheap on a log that grows while you read it."""

    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class InboundEventViewSet(viewsets.ReadOnlyModelViewSet):
    """The event log, newest first."""

    queryset = InboundEvent.objects.select_related("source")
    serializer_class = InboundEventSerializer
    filterset_class = InboundEventFilter
    pagination_class = EventPagination
