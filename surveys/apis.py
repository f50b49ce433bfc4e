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
from integrations.models import Source
from surveys.conditions import conditions_problems
from surveys.models import Invitation, Response, Survey, SurveyTexts, SurveyTranslation, Trigger
from surveys.selectors import survey_nps, surveys_with_stats
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
