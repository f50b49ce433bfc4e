"""Testimonials in the admin: the moderation queue (approve, hide, feature; trim, never rewrite), each
survey's testimonial settings, and the embed snippets on the survey's own page (a part named in
hub/pipeline.py). Thin: moderation goes through testimonials/services.py, trims are checked by
testimonials/quotes.py, snippets come from testimonials/embeds.py."""

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from hub.admin import JSON_FORMFIELDS, excerpt, help_text_of, status_badge, to_the_second
from surveys.admin.surveys import TagsField
from surveys.models import SCORE_BANDS, Survey
from testimonials.embeds import embed_snippets
from testimonials.models import Testimonial, TestimonialSettings
from testimonials.quotes import QuoteNotVerbatim, quote_trim
from testimonials.services import testimonial_trim, testimonials_moderate


class ModerationFilter(admin.SimpleListFilter):
    """The queue opens on what waits for a decision: pending quotes."""

    title = "status"
    parameter_name = "status"
    DEFAULT = Testimonial.Status.PENDING

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [*Testimonial.Status.choices, ("all", "all")]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or self.DEFAULT
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value() or self.DEFAULT
        if value == "all":
            return queryset
        if value not in Testimonial.Status.values:
            return queryset.none()
        return queryset.filter(status=value)


class TestimonialForm(forms.ModelForm[Testimonial]):
    tags = TagsField(
        required=False,
        help_text="Staff's tags, separated by commas, e.g. onboarding, support; an embed can show one tag.",
        widget=forms.TextInput({"size": 60}),
    )

    class Meta:
        model = Testimonial
        fields = ["quote", "tags"]
        widgets = {"quote": forms.Textarea({"rows": 4, "cols": 80})}

    def clean_quote(self) -> str:
        wanted = self.cleaned_data.get("quote") or ""
        if wanted == self.instance.quote:
            return wanted
        try:
            return quote_trim(original=self.instance.original, wanted=wanted)
        except QuoteNotVerbatim as exc:
            raise forms.ValidationError(str(exc), code="not_verbatim") from exc


def _moderation(action: str, description: str, done: str) -> Any:
    def run(modeladmin: "TestimonialAdmin", request: HttpRequest, queryset: QuerySet[Testimonial]) -> None:
        changed = testimonials_moderate(testimonials=queryset, action=action)
        modeladmin.message_user(request, f"{changed} testimonial(s) {done}.", messages.SUCCESS)

    run.__name__ = action
    return admin.action(description=description, permissions=["change"])(run)


@admin.register(Testimonial)
class TestimonialAdmin(admin.ModelAdmin[Testimonial]):
    form = TestimonialForm
    list_display = (
        "shown_quote",
        "rating",
        "person_link",
        "account",
        "survey",
        "status_label",
        "featured",
        "consented",
    )
    list_filter = (ModerationFilter, "featured", ("survey", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("survey", "response", "person")
    search_fields = ("quote", "display_name", "company")
    ordering = ("-consented_at", "-pk")
    actions = [
        _moderation("approve", "Approve: show in embeds", "approved"),
        _moderation("hide", "Hide from embeds", "hidden"),
        _moderation("feature", "Feature: approve and show first", "featured"),
        _moderation("unfeature", "Stop featuring", "no longer featured"),
    ]
    fieldsets = [
        (
            None,
            {"fields": ["survey", "answer", "rating", "person_link", "account", "status_label", "featured"]},
        ),
        (
            "Quote",
            {
                "fields": ["original", "quote", "tags"],
                "description": "Trim only: keep whole words of the "
                "customer's, in their order; type … (or ...) where you leave words out.",
            },
        ),
        ("Shown as", {"fields": ["name_display", "display_name", "company"]}),
        (
            "Consent",
            {
                "fields": [
                    "consent_text",
                    "consent_language",
                    "consented_at",
                    "approved_at",
                    "withdrawn_at",
                    "withdrawn_by",
                    "receipt",
                    "receipt_sent_at",
                    "receipt_error",
                ]
            },
        ),
    ]
    readonly_fields = [
        "survey",
        "answer",
        "rating",
        "person_link",
        "account",
        "status_label",
        "featured",
        "original",
        "name_display",
        "display_name",
        "company",
        "consent_text",
        "consent_language",
        "consented_at",
        "approved_at",
        "withdrawn_at",
        "withdrawn_by",
        "receipt",
        "receipt_sent_at",
        "receipt_error",
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Testimonial]:
        return super().get_queryset(request).prefetch_related("person__accounts")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # only a person's consent makes one

    def get_readonly_fields(self, request: HttpRequest, obj: Testimonial | None = None) -> Any:
        if obj is not None and obj.status == Testimonial.Status.WITHDRAWN:
            return [*self.readonly_fields, "quote", "tags"]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: Testimonial, form: Any, change: bool) -> None:
        tags = obj.tags
        testimonial_trim(testimonial=obj, wanted=form.cleaned_data.get("quote", obj.quote))
        Testimonial.objects.filter(pk=obj.pk).update(tags=tags)

    @admin.display(description="quote")
    def shown_quote(self, obj: Testimonial) -> str:
        return excerpt(obj.quote, 120) if obj.quote else "(withdrawn)"

    @admin.display(description="score", ordering="response__rating")
    def rating(self, obj: Testimonial) -> int:
        return obj.response.rating

    @admin.display(description="answer")
    def answer(self, obj: Testimonial) -> str:
        url = reverse("admin:surveys_response_change", args=[obj.response_id])
        return format_html('<a href="{}">answer {}</a>', url, obj.response_id)

    @admin.display(description="person")
    def person_link(self, obj: Testimonial) -> str:
        if obj.person is None:
            return "erased"
        url = reverse("admin:customers_person_change", args=[obj.person_id])
        person = obj.person
        name = person.name or f"{person.first_name} {person.last_name}".strip() or person.email
        return format_html('<a href="{}">{}</a>', url, name or f"person {person.pk}")

    @admin.display(description="account")
    def account(self, obj: Testimonial) -> str:
        accounts = list(obj.person.accounts.all()) if obj.person else []
        return format_html_join(", ", "{}", ((str(a),) for a in accounts)) or "-"

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: Testimonial) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="consented", ordering="consented_at")
    def consented(self, obj: Testimonial) -> str:
        return to_the_second(obj.consented_at)


class TestimonialSettingsForm(forms.ModelForm[TestimonialSettings]):
    bands = forms.MultipleChoiceField(
        choices=[(band, f"{band}s ({low}-{high})") for band, (low, high) in SCORE_BANDS.items()],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=help_text_of(TestimonialSettings, "bands"),
    )

    class Meta:
        model = TestimonialSettings
        fields = ["survey", "bands", "consent_text", "consent_translations"]


@admin.register(TestimonialSettings)
class TestimonialSettingsAdmin(admin.ModelAdmin[TestimonialSettings]):
    form = TestimonialSettingsForm
    formfield_overrides = JSON_FORMFIELDS
    list_display = ("survey", "bands")
    list_select_related = ("survey",)


def survey_embed_snippets(request: HttpRequest, *, survey: Survey) -> str:
    """On a survey's admin page: the copy-paste embeds of its quotes (hub/pipeline.py SURVEY_ADMIN_PARTS)."""
    base = settings.HUB_BASE_URL
    # The file's own name, not the manifest's hashed one: pasted snippets keep working across releases.
    widget = f"{base}/{settings.STATIC_URL.strip('/')}/testimonials/widget.js"
    snippets = embed_snippets(survey=survey, base_url=base, widget_url=widget, accent=survey.accent_color)
    queue = reverse("admin:testimonials_testimonial_changelist") + f"?survey__id__exact={survey.pk}"
    return render_to_string("admin/testimonials/embed_snippets.html", {"snippets": snippets, "queue": queue})
