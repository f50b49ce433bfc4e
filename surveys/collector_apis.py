"""The management API of collectors (/api/collectors/): a survey's webhook links, the kind of their
webhook link and that kind's settings and write-only secrets. Routes in hub/api_urls.py."""

import copy
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import mixins, serializers, viewsets

from integrations.base import problem_field
from integrations.models import Source
from integrations.registry import collector_kind_choices
from surveys.apis import SurveyRefFilter
from surveys.models import Collector, Survey
from surveys.services.collector_links import (
    collector_create,
    collector_links,
    collector_problems,
    collector_save,
    collector_secrets_update,
)


class CollectorFilter(django_filters.FilterSet):
    survey = SurveyRefFilter(help_text="Survey id or slug.")

    class Meta:
        model = Collector
        fields = ["survey", "enabled"]


class CollectorSerializer(serializers.ModelSerializer):
    """A collector with its ready-to-copy links. `kind` names the tool of its webhook link
    (integrations/registry.py); `settings` and `secrets` are that kind's. `secrets` is write-only: a
    PATCH sets the keys it names (null or "" removes one) and keeps the others; responses list only
    which keys are set (`secret_keys`)."""

    survey = serializers.SlugRelatedField[Survey](
        slug_field="slug", queryset=Survey.objects.all(), help_text="Survey slug."
    )
    kind = serializers.ChoiceField(choices=[], required=False, help_text="intercom (default) or zendesk.")
    type = serializers.ChoiceField(
        source="channel", choices=Collector.Channel.choices, required=False, help_text="email or sms."
    )
    source = serializers.SlugRelatedField[Source](  # type: ignore[assignment]
        slug_field="slug", read_only=True, help_text="Where the calls are logged (collector-<id>)."
    )
    secrets = serializers.DictField(
        child=serializers.CharField(allow_null=True, allow_blank=True),
        write_only=True,
        required=False,
        help_text='The kind\'s secrets, e.g. {"client_secret": "..."} (Intercom), {"signing_secret": '
        '"..."} (Zendesk); never returned.',
    )
    secret_keys = serializers.SerializerMethodField(help_text="Names of the secrets that are set.")
    api_link = serializers.SerializerMethodField(
        help_text="POST a contact here (JSON or form), from any other tool; its own token. Refused when the "
        "collector has its kind's signing secret, unless unsigned_calls is on."
    )
    webhook_link = serializers.SerializerMethodField(
        help_text="The webhook URL for the tool of the collector's kind (once its signing secret is set: "
        "signed calls only)."
    )
    turn_on_link = serializers.SerializerMethodField()
    turn_off_link = serializers.SerializerMethodField()

    class Meta:
        model = Collector
        fields = [
            "id",
            "survey",
            "name",
            "kind",
            "settings",
            "type",
            "enabled",
            "delay_minutes",
            "resurvey_days",
            "topic_actions",
            "secrets",
            "secret_keys",
            "unsigned_calls",
            "api_link",
            "webhook_link",
            "turn_on_link",
            "turn_off_link",
            "source",
            "created_at",
            "updated_at",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = collector_kind_choices()  # type: ignore[attr-defined]

    def get_secret_keys(self, obj: Collector) -> list[str]:
        return sorted(obj.secret_values())

    def get_api_link(self, obj: Collector) -> str:
        return collector_links(obj)["api_link"]

    def get_webhook_link(self, obj: Collector) -> str:
        return collector_links(obj)["webhook_link"]

    def get_turn_on_link(self, obj: Collector) -> str:
        return collector_links(obj)["turn_on_link"]

    def get_turn_off_link(self, obj: Collector) -> str:
        return collector_links(obj)["turn_off_link"]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        collector = copy.copy(self.instance) if self.instance else Collector()
        secrets = {name: value or None for name, value in attrs.pop("secrets", {}).items()}
        for name, value in attrs.items():
            setattr(collector, name, value)
        try:
            collector.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        problems = collector_problems(
            collector=collector, kind=collector.kind, settings=collector.settings, secrets=secrets
        )
        if problems:
            errors: dict[str, list[str]] = {}
            for problem in problems:
                errors.setdefault(problem_field(problem) or "configuration", []).append(problem)
            raise serializers.ValidationError(errors)
        attrs["secrets"] = secrets
        return attrs

    def create(self, validated_data: dict[str, Any]) -> Collector:
        return collector_create(**validated_data)

    def update(self, instance: Collector, validated_data: dict[str, Any]) -> Collector:
        secrets = validated_data.pop("secrets", {})
        for name, value in validated_data.items():
            setattr(instance, name, value)
        collector_secrets_update(collector=instance, secrets=secrets)
        return collector_save(collector=instance)


class CollectorViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Collectors: a survey's API links for webhooks (SurveyLab's model), e.g. from Intercom."""

    queryset = Collector.objects.select_related("survey", "source").order_by("pk")
    serializer_class = CollectorSerializer
    filterset_class = CollectorFilter
    http_method_names = ["get", "post", "patch", "head", "options"]
