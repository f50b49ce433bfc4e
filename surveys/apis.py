"""Management API for surveys: create and change surveys from a script, read invitations and
responses, and ask "why (not) surveyed" for one person."""

import copy
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.text import slugify
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response as ApiResponse
from rest_framework.views import APIView

from customers.models import Person
from hub.api import ErrorSerializer, MomentFilter, WallTimeField, error_response
from hub.cleaning import clean_text, parse_id
from hub.permissions import staff_with_permissions
from integrations.base import problem_field
from integrations.models import Source
from integrations.registry import collector_kind_choices
from surveys.conditions import conditions_problems
from surveys.models import Collector, Invitation, Response, Survey, SurveyTexts, SurveyTranslation, Trigger
from surveys.selectors import survey_nps, surveys_with_stats
from surveys.services.collector_links import (
    collector_create,
    collector_links,
    collector_problems,
    collector_save,
    collector_secrets_update,
)
from surveys.services.content import DEFAULT_TEXTS
from surveys.services.eligibility import eligibility_explain

TEMPLATE_FIELDS = [
    *SurveyTexts.TEXT_FIELDS,
    "company_name",
    "sender_name",
    "sender_email",
    "reply_to",
    "tags",
    "tag_scale",
    "logo_url",
    "accent_color",
]


class TriggerSerializer(serializers.ModelSerializer):
    source = serializers.SlugRelatedField[Source](  # type: ignore[assignment]
        slug_field="slug", queryset=Source.objects.all(), help_text="Source slug."
    )
    event = serializers.CharField(
        source="event_name",
        required=False,
        allow_blank=True,
        help_text="Track event (or page/screen name); blank: any.",
    )

    class Meta:
        model = Trigger
        fields = ["id", "source", "call_type", "event", "conditions", "enabled"]

    def validate_conditions(self, value: Any) -> Any:
        problems = conditions_problems(conditions=value)
        if problems:
            raise serializers.ValidationError(problems)
        return value


class TemplateSerializer(serializers.ModelSerializer):
    """The survey's words, sender and branding (fields of the survey itself)."""

    tags = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, help_text="Tags to rate."
    )

    class Meta:
        model = Survey
        fields = TEMPLATE_FIELDS


class TranslationSerializer(serializers.ModelSerializer):
    class Meta:
        model = SurveyTranslation
        fields = ["language", *SurveyTexts.TEXT_FIELDS]


class SurveyStatsSerializer(serializers.Serializer):
    invitations_sent = serializers.IntegerField(source="sent_count", read_only=True)
    responses = serializers.IntegerField(source="response_count", read_only=True)
    nps = serializers.SerializerMethodField(help_text="Promoters % minus detractors %; null before any.")

    def get_nps(self, obj: Survey) -> int | None:
        return survey_nps(obj)


class SurveySerializer(serializers.ModelSerializer):
    enabled = serializers.BooleanField(
        source="automation_enabled", required=False, help_text="Automation: off sends nothing."
    )
    slug = serializers.SlugField(max_length=100, required=False, help_text="Derived from the name if absent.")
    triggers = TriggerSerializer(many=True, required=False, help_text="On write, replaces all triggers.")
    template = TemplateSerializer(source="*", required=False)
    translations = TranslationSerializer(
        many=True, required=False, help_text="On write, replaces all translations."
    )
    stats = SurveyStatsSerializer(source="*", read_only=True)
    send_window_start = WallTimeField(required=False, help_text="Local time the window opens, e.g. 09:00.")
    send_window_end = WallTimeField(required=False, help_text="Local time the window closes, e.g. 17:00.")

    class Meta:
        model = Survey
        fields = [
            "id",
            "name",
            "slug",
            "enabled",
            "default_language",
            "min_delay_days",
            "max_delay_days",
            "resurvey_interval_days",
            "token_expiry_days",
            "send_window_enabled",
            "send_window_days",
            "send_window_start",
            "send_window_end",
            "send_window_timezone",
            "triggers",
            "template",
            "translations",
            "stats",
            "created_at",
            "updated_at",
        ]

    def validate_slug(self, value: str) -> str:
        others = Survey.objects.exclude(pk=self.instance.pk) if self.instance else Survey.objects.all()
        if others.filter(slug=value).exists():
            raise serializers.ValidationError("Another survey has this slug.")
        return value

    def validate_translations(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        languages = [t["language"].lower() for t in value]
        if len(set(languages)) != len(languages):
            raise serializers.ValidationError("One translation per language.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The survey's own rules (delays, send window), on the values it would have after the write."""
        survey = copy.copy(self.instance) if self.instance else Survey()
        for name, value in attrs.items():
            if name not in ("triggers", "translations"):
                setattr(survey, name, value)
        try:
            survey.clean()
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return attrs

    @transaction.atomic
    def create(self, validated_data: dict[str, Any]) -> Survey:
        triggers = validated_data.pop("triggers", [])
        translations = validated_data.pop("translations", [])
        if not validated_data.get("slug"):
            validated_data["slug"] = slug_unique(validated_data["name"])
        # Explicit standard wording, so what the API returns is what people will read.
        for name, text in DEFAULT_TEXTS.items():
            validated_data.setdefault(name, text)
        survey = Survey.objects.create(**validated_data)
        self._replace_children(survey, triggers, translations)
        return survey

    @transaction.atomic
    def update(self, instance: Survey, validated_data: dict[str, Any]) -> Survey:
        triggers = validated_data.pop("triggers", None)
        translations = validated_data.pop("translations", None)
        survey = super().update(instance, validated_data)
        self._replace_children(survey, triggers, translations)
        return survey

    def _replace_children(
        self, survey: Survey, triggers: list[dict[str, Any]] | None, translations: list[dict[str, Any]] | None
    ) -> None:
        if triggers is not None:
            survey.triggers.all().delete()
            Trigger.objects.bulk_create(Trigger(survey=survey, **t) for t in triggers)
        if translations is not None:
            survey.translations.all().delete()
            SurveyTranslation.objects.bulk_create(SurveyTranslation(survey=survey, **t) for t in translations)


def slug_unique(name: str) -> str:
    base = slugify(name)[:90] or "survey"
    slug, n = base, 1
    while Survey.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


class SurveyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Surveys with their triggers, texts and translations. Writing "triggers" or "translations"
    replaces them all."""

    serializer_class = SurveySerializer
    filterset_fields = ["slug", "automation_enabled"]
    http_method_names = ["get", "post", "patch", "head", "options"]

    def get_queryset(self) -> QuerySet[Survey]:
        return surveys_with_stats(Survey.objects.order_by("name")).prefetch_related(
            "triggers__source", "translations"
        )

    def perform_create(self, serializer: Any) -> None:
        self._save(serializer)

    def perform_update(self, serializer: Any) -> None:
        self._save(serializer)

    def _save(self, serializer: Any) -> None:
        serializer.save()
        # The answer shows the survey as stored, with its new triggers and its statistics.
        serializer.instance = self.get_queryset().get(pk=serializer.instance.pk)


def survey_ref(ref: str, prefix: str = "") -> Q:
    """A survey named by its id or its slug (any text: what names nothing matches nothing)."""
    pk = parse_id(ref)
    return Q(**{f"{prefix}pk": pk}) if pk is not None else Q(**{f"{prefix}slug": clean_text(ref)})


class SurveyRefFilter(django_filters.CharFilter):
    def filter(self, qs: Any, value: str) -> Any:
        return qs.filter(survey_ref(value, "survey__")) if value else qs


class InvitationFilter(django_filters.FilterSet):
    survey = SurveyRefFilter(help_text="Survey id or slug.")
    user_id = django_filters.CharFilter(field_name="person__user_id", help_text="The person's userId.")

    class Meta:
        model = Invitation
        fields = ["survey", "user_id", "status"]


class InvitationSerializer(serializers.ModelSerializer):
    survey = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated]
    user_id = serializers.CharField(source="person.user_id", read_only=True, allow_null=True, default=None)
    email = serializers.CharField(source="person.email", read_only=True, allow_null=True, default=None)

    class Meta:
        model = Invitation
        fields = [
            "id",
            "survey",
            "person",
            "user_id",
            "email",
            "status",
            "language",
            "due_at",
            "sent_at",
            "responded_at",
            "attempts",
            "error",
            "created_at",
        ]


class InvitationViewSet(viewsets.ReadOnlyModelViewSet):
    """Invitations, newest first; "error" says why one failed or was cancelled."""

    queryset = Invitation.objects.select_related("survey", "person").order_by("-created_at", "-id")
    serializer_class = InvitationSerializer
    filterset_class = InvitationFilter


class ResponseFilter(django_filters.FilterSet):
    survey = SurveyRefFilter(help_text="Survey id or slug.")
    user_id = django_filters.CharFilter(field_name="person__user_id", help_text="The person's userId.")
    since = MomentFilter(
        field_name="answered_at", lookup_expr="gte", help_text="Answered at or after (ISO 8601)."
    )

    class Meta:
        model = Response
        fields = ["survey", "user_id", "since"]


class ResponseSerializer(serializers.ModelSerializer):
    survey = serializers.SlugRelatedField(slug_field="slug", read_only=True)  # type: ignore[var-annotated]
    user_id = serializers.CharField(source="person.user_id", read_only=True, allow_null=True, default=None)
    band = serializers.CharField(read_only=True, help_text="detractor (0-6), passive (7-8), promoter (9-10).")

    class Meta:
        model = Response
        fields = [
            "id",
            "survey",
            "invitation",
            "person",
            "user_id",
            "rating",
            "band",
            "comment",
            "tag_ratings",
            "language",
            "answered_at",
            "rated_at",
            "updated_at",
        ]


class ResponseViewSet(viewsets.ReadOnlyModelViewSet):
    """Answers, newest first."""

    queryset = Response.objects.select_related("survey", "person").order_by("-answered_at", "-id")
    serializer_class = ResponseSerializer
    filterset_class = ResponseFilter


class DecisionSerializer(serializers.Serializer):
    eligible = serializers.BooleanField()
    send_at = serializers.DateTimeField(allow_null=True, help_text="When it would be sent, if eligible.")
    next_eligible_at = serializers.DateTimeField(
        allow_null=True, help_text="When the blocking rule stops blocking, if known."
    )
    reasons = serializers.ListField(child=serializers.CharField(), help_text="Each rule's verdict, in order.")


class PersonEligibilityView(APIView):
    """Why (not) surveyed: the decision the hub would make now for this person and survey."""

    permission_classes = [staff_with_permissions("customers.view_person", "surveys.view_survey")]

    @extend_schema(
        parameters=[
            OpenApiParameter("survey", OpenApiTypes.STR, required=True, description="Survey id or slug."),
        ],
        responses={200: DecisionSerializer, 400: ErrorSerializer, 404: ErrorSerializer},
    )
    def get(self, request: Request, pk: int) -> Any:
        person = Person.objects.filter(pk=pk).first()
        if person is None:
            raise NotFound(f"No person {pk}.")
        ref = request.query_params.get("survey", "").strip()
        if not ref:
            return error_response(400, "survey_required", "Give ?survey=<survey id or slug>.")
        survey = Survey.objects.filter(survey_ref(ref)).first()
        if survey is None:
            return error_response(400, "survey_unknown", f"No survey {ref!r}.")
        decision = eligibility_explain(survey=survey, person=person, now=timezone.now())
        return ApiResponse(DecisionSerializer(decision.as_dict()).data)


# --- Collectors ------------------------------------------------------------------------------------------


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
