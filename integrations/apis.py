"""Management API (token auth, staff only): sources, the event log, destinations and deliveries."""

from typing import Any

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api import ErrorSerializer
from hub.permissions import staff_with_permissions
from integrations.base import event_type_choices, problem_field
from integrations.deliveries import deliveries_replay
from integrations.models import Delivery, Destination, InboundEvent, MappingSet, Source, WriteKey
from integrations.registry import kind_choices


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


# --- outbound: destinations and deliveries ---------------------------------------------------------


class DestinationSerializer(serializers.ModelSerializer):
    """A destination of one source (by slug: it receives only that source's people). `secrets` is
    write-only: a PATCH sets the keys it names (null removes one) and keeps the others; responses list
    only which keys are set (`secret_keys`)."""

    source = serializers.SlugRelatedField[Source](  # type: ignore[assignment]
        slug_field="slug",
        queryset=Source.objects.all(),
        help_text="Slug of the source whose people, calls and answers this destination receives.",
    )
    kind = serializers.ChoiceField(choices=[])
    secrets = serializers.DictField(
        child=serializers.CharField(allow_null=True, allow_blank=True),
        write_only=True,
        required=False,
        help_text='API keys and signing secrets, e.g. {"signing_secret": "whsec_..."}; never returned.',
    )
    secret_keys = serializers.SerializerMethodField(help_text="Names of the secrets that are set.")
    call_types = serializers.ListField(
        child=serializers.ChoiceField(choices=event_type_choices()),
        required=False,
        help_text="Hub events and Segment call types this destination receives.",
    )
    mapping_set = serializers.SlugRelatedField[MappingSet](
        slug_field="slug", queryset=MappingSet.objects.all(), required=False, allow_null=True
    )

    class Meta:
        model = Destination
        fields = [
            "id",
            "source",
            "kind",
            "name",
            "enabled",
            "settings",
            "secrets",
            "secret_keys",
            "call_types",
            "event_names",
            "mapping_set",
            "rate_limit_per_second",
            "timeout_seconds",
            "max_age_seconds",
            "created_at",
            "updated_at",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = kind_choices()  # type: ignore[attr-defined]

    def get_secret_keys(self, obj: Destination) -> list[str]:
        return sorted(obj.secret_values())

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        instance: Destination = self.instance or Destination()
        kind = attrs.get("kind", instance.kind)
        settings = attrs.get("settings", instance.settings)
        problems = instance.configuration_problems(
            kind=kind, settings=settings, secrets=attrs.get("secrets", {})
        )
        if problems:
            errors: dict[str, list[str]] = {}
            for problem in problems:  # "settings", "secrets", or "configuration" for the whole
                errors.setdefault(problem_field(problem) or "configuration", []).append(problem)
            raise serializers.ValidationError(errors)
        return attrs

    def _save(self, instance: Destination, validated: dict[str, Any]) -> Destination:
        secrets = validated.pop("secrets", None)
        for name, value in validated.items():
            setattr(instance, name, value)
        if secrets:
            instance.secrets_update(secrets)
        instance.save()
        return instance

    def create(self, validated_data: dict[str, Any]) -> Destination:
        return self._save(Destination(), validated_data)

    def update(self, instance: Destination, validated_data: dict[str, Any]) -> Destination:
        return self._save(instance, validated_data)


class DestinationFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__slug", help_text="Source slug.")

    class Meta:
        model = Destination
        fields = ["source", "kind", "enabled"]


class DestinationViewSet(viewsets.ModelViewSet):
    """Outbound destinations (webhooks, vendor connectors). Deleting is not offered: disable instead."""

    queryset = Destination.objects.select_related("mapping_set", "source").order_by("name")
    serializer_class = DestinationSerializer
    filterset_class = DestinationFilter
    http_method_names = ["get", "post", "patch", "head", "options"]


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = [
            "id",
            "destination",
            "event_type",
            "idempotency_key",
            "status",
            "attempts",
            "next_attempt_at",
            "retry_until",
            "last_http_status",
            "last_response_excerpt",
            "last_error",
            "created_at",
            "updated_at",
            "delivered_at",
            "payload",
            "last_exchange",
        ]


class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """Outbound calls, newest first; filter by destination (id) and status. `replay` sends one again."""

    queryset = Delivery.objects.all()
    serializer_class = DeliverySerializer
    filterset_fields = ["destination", "status", "event_type", "idempotency_key"]
    pagination_class = EventPagination  # newest first, cursor pages

    @extend_schema(request=None, responses={200: DeliverySerializer, 409: ErrorSerializer})
    @action(
        detail=True,
        methods=["post"],
        permission_classes=[
            staff_with_permissions("integrations.view_delivery", "integrations.change_delivery")
        ],
    )
    def replay(self, request: Request, pk: str | None = None) -> Response:
        """A new attempt now, with the same idempotency key and a fresh retry window."""
        delivery = self.get_object()
        if not deliveries_replay(ids=[delivery.pk]):
            return Response(
                {
                    "code": "conflict",
                    "message": f"The delivery is {delivery.status}: it will be attempted anyway.",
                },
                status=status.HTTP_409_CONFLICT,
            )
        delivery.refresh_from_db()
        return Response(self.get_serializer(delivery).data)
