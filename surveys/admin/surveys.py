"""Surveys: the templates with their triggers and translations, listed with their figures; their own
pages (preview, send test, why (not) surveyed) come from surveys/admin/preview.py and eligibility.py."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from hub.admin import help_text_of
from hub.pipeline import SURVEY_ADMIN_PARTS, pipeline_functions
from surveys.admin.conditions import ConditionsField
from surveys.admin.eligibility import SurveyEligibilityPages
from surveys.admin.preview import SurveyPreviewPages
from surveys.models import Survey, SurveyTexts, SurveyTranslation, Trigger
from surveys.selectors import survey_nps, survey_setup_gaps, surveys_with_stats
from surveys.services.content import DEFAULT_TEXTS

WEEKDAY_CHOICES = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]


class TagsField(forms.CharField):
    """A JSON list of tag names, typed as "Support, Price"."""

    def prepare_value(self, value: Any) -> Any:
        return ", ".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [tag.strip() for tag in text.replace("\n", ",").split(",") if tag.strip()]


def https_formfield(field: models.Field[Any, Any], **kwargs: Any) -> forms.Field | None:
    """Form fields for model fields, with URLs that lack a scheme read as https:// (Django 6's default)."""
    if isinstance(field, models.URLField):
        kwargs["assume_scheme"] = "https"
    return field.formfield(**kwargs)


TEXT_LABELS = {
    "followup_detractor": "Follow-up for detractors (0-6)",
    "followup_passive": "Follow-up for passives (7-8)",
    "followup_promoter": "Follow-up for promoters (9-10)",
    "low_label": "Label under 0",
    "high_label": "Label under 10",
}


class SurveyForm(forms.ModelForm[Survey]):
    tags = TagsField(
        required=False,
        help_text="Optional tag ratings, separated by commas, e.g. Support, Price, Ease of use.",
        widget=forms.TextInput({"size": 60}),
    )
    send_window_days = forms.TypedMultipleChoiceField(
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=help_text_of(Survey, "send_window_days"),
    )

    class Meta:
        model = Survey
        formfield_callback = https_formfield
        labels = TEXT_LABELS
        fields = [f.name for f in Survey._meta.get_fields() if getattr(f, "editable", False) and f.concrete]
        widgets = {
            name: forms.TextInput({"size": 80})
            for name in ("subject", "question", "followup_detractor", "followup_passive", "followup_promoter")
        }


class TriggerForm(forms.ModelForm[Trigger]):
    conditions = ConditionsField(
        required=False,
        label="only when",
        help_text='All must hold. Numbers and true/false match as such; "42" in quotes matches the text. '
        "'is one of' takes values separated by commas.",
    )

    class Meta:
        model = Trigger
        fields = ["source", "call_type", "event_name", "conditions", "enabled"]


class TriggerInline(admin.TabularInline[Trigger, Survey]):
    model = Trigger
    form = TriggerForm
    extra = 0
    verbose_name_plural = "triggers (which calls make the survey consider a person)"


class SurveyTranslationForm(forms.ModelForm[SurveyTranslation]):
    class Meta:
        model = SurveyTranslation
        fields = ["language", *SurveyTexts.TEXT_FIELDS]
        labels = TEXT_LABELS


class SurveyTranslationInline(admin.StackedInline[SurveyTranslation, Survey]):
    model = SurveyTranslation
    form = SurveyTranslationForm
    extra = 0
    fields = ["language", *SurveyTexts.TEXT_FIELDS]
    verbose_name_plural = "translations (blank texts fall back to the survey's own)"


@admin.register(Survey)
class SurveyAdmin(SurveyPreviewPages, SurveyEligibilityPages):
    form = SurveyForm
    list_display = ["name", "automation_enabled", "trigger_list", "sent", "responses", "nps"]
    list_editable = ["automation_enabled"]
    list_filter = ["automation_enabled"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [TriggerInline, SurveyTranslationInline]
    actions = ["send_test_to_me"]
    change_form_template = "admin/surveys/survey/change_form.html"
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ["created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "automation_enabled", "default_language"]}),
        (
            "Sender",
            {
                "classes": ["hub-tab-texts"],
                "fields": ["sender_name", "sender_email", "reply_to", "company_name"],
                "description": "Who the email comes from, and the name that replaces {{ company }}.",
            },
        ),
        (
            "Email and question",
            {
                "classes": ["hub-tab-texts"],
                "fields": ["subject", "question", "low_label", "high_label"],
                "description": "The email's subject and the 0-10 question. Blank texts use the defaults.",
            },
        ),
        (
            "Follow-up question per score band",
            {
                "classes": ["hub-tab-texts"],
                "fields": ["followup_detractor", "followup_passive", "followup_promoter"],
            },
        ),
        ("Tag ratings", {"classes": ["hub-tab-texts"], "fields": ["tags", "tag_scale"]}),
        ("After answering", {"classes": ["hub-tab-texts"], "fields": ["thank_you"]}),
        ("Branding", {"classes": ["hub-tab-branding"], "fields": ["logo_url", "accent_color", "footer"]}),
        (
            "When to ask",
            {
                "classes": ["hub-tab-when"],
                "fields": ["min_delay_days", "max_delay_days", "resurvey_interval_days", "token_expiry_days"],
                "description": "Min 3 / max 14: a new customer is asked 3 days after createdAt, and "
                "customers created more than 14 days ago are ignored. Max 0: every trigger may ask, "
                "once per re-survey interval.",
            },
        ),
        (
            "Send window",
            {
                "classes": ["hub-tab-when"],
                "fields": [
                    "send_window_enabled",
                    "send_window_days",
                    "send_window_start",
                    "send_window_end",
                    "send_window_timezone",
                ],
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Survey]:
        return surveys_with_stats(super().get_queryset(request)).prefetch_related("triggers__source")

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Later stages add to the survey's page (hub/pipeline.py SURVEY_ADMIN_PARTS), e.g. embed snippets;
        # what keeps it from asking anyone goes at the top.
        survey = self.get_object(request, unquote(object_id))
        parts = (
            [part(request, survey=survey) for part in pipeline_functions(SURVEY_ADMIN_PARTS)]
            if survey
            else []
        )
        gaps = survey_setup_gaps(survey=survey) if survey is not None else []
        context = {**(extra_context or {}), "parts": parts, "setup_gaps": gaps}
        return super().change_view(request, object_id, form_url, context)

    def get_changeform_initial_data(self, request: HttpRequest) -> dict[str, Any]:
        # A new survey starts with the standard NPS wording, to be edited rather than invented.
        return {**DEFAULT_TEXTS, **super().get_changeform_initial_data(request)}

    @admin.display(description="triggers")
    def trigger_list(self, obj: Survey) -> str:
        return "; ".join(str(t) for t in obj.triggers.all() if t.enabled) or "none"

    @admin.display(description="invitations sent", ordering="sent_count")
    def sent(self, obj: Survey) -> int:
        return int(getattr(obj, "sent_count", 0))

    @admin.display(description="responses", ordering="response_count")
    def responses(self, obj: Survey) -> int:
        return int(getattr(obj, "response_count", 0))

    @admin.display(description="NPS so far")
    def nps(self, obj: Survey) -> str:
        score = survey_nps(obj)
        return "-" if score is None else f"{score:+d}"
