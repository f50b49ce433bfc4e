"""Management API: people (with traits, account ids and recent calls) and accounts."""

from typing import Any

import django_filters
from rest_framework import serializers, viewsets

from customers.models import Account, Person
from customers.selectors import person_recent_events
from integrations.apis import InboundEventSerializer

RECENT_EVENTS = 20


class PersonSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated,assignment]
    account_ids = serializers.SerializerMethodField(help_text="groupIds of the person's accounts.")
    anonymous_ids = serializers.SerializerMethodField(
        help_text="Other ids of the person (anonymousIds, aliases)."
    )

    class Meta:
        model = Person
        fields = [
            "id",
            "source",
            "user_id",
            "anonymous_ids",
            "email",
            "first_name",
            "last_name",
            "name",
            "gender",
            "language",
            "timezone",
            "created_at",
            "first_seen_at",
            "last_seen_at",
            "traits",
            "account_ids",
        ]

    def get_account_ids(self, obj: Person) -> list[str]:
        return [m.account.group_id for m in obj.memberships.all()]

    def get_anonymous_ids(self, obj: Person) -> list[str]:
        return [i.value for i in obj.identities.all()]


class PersonDetailSerializer(PersonSerializer):
    recent_events = serializers.SerializerMethodField(
        help_text=f"The person's last {RECENT_EVENTS} calls (empty without permission to view events)."
    )

    class Meta(PersonSerializer.Meta):
        fields = [*PersonSerializer.Meta.fields, "recent_events"]

    def get_recent_events(self, obj: Person) -> list[dict[str, Any]]:
        request = self.context.get("request")
        if request is None or not request.user.has_perm("integrations.view_inboundevent"):
            return []
        return InboundEventSerializer(person_recent_events(obj, limit=RECENT_EVENTS), many=True).data  # type: ignore[return-value]


class PersonFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__slug", help_text="Source slug.")
    email = django_filters.CharFilter(method="filter_email", help_text="Email (case-insensitive).")

    class Meta:
        model = Person
        fields = ["source", "user_id", "email"]

    def filter_email(self, queryset: Any, name: str, value: str) -> Any:
        return queryset.filter(email=value.strip().lower())


class PersonViewSet(viewsets.ReadOnlyModelViewSet):
    """Customer records, most recently seen first."""

    queryset = (
        Person.objects.select_related("source")
        .prefetch_related("identities", "memberships__account")
        .order_by("-last_seen_at", "-id")
    )
    filterset_class = PersonFilter

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return PersonDetailSerializer if self.action == "retrieve" else PersonSerializer


class AccountSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated,assignment]

    class Meta:
        model = Account
        fields = [
            "id",
            "source",
            "group_id",
            "name",
            "industry",
            "employees",
            "plan",
            "created_at",
            "first_seen_at",
            "traits",
        ]


class AccountFilter(django_filters.FilterSet):
    source = django_filters.CharFilter(field_name="source__slug", help_text="Source slug.")

    class Meta:
        model = Account
        fields = ["source", "group_id"]


class AccountViewSet(viewsets.ReadOnlyModelViewSet):
    """Accounts (companies) from group calls and account_id traits."""

    queryset = Account.objects.select_related("source").order_by("name", "id")
    serializer_class = AccountSerializer
    filterset_class = AccountFilter
