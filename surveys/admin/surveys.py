"""Surveys in the operations console: templates with triggers and translations, a live preview,
"send test to me", "why (not) surveyed", and the invitations and responses they led to."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.mail import EmailMultiAlternatives
from django.db import models
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.text import Truncator

from customers.models import Person
from hub.admin import JSON_FORMFIELDS, ReadOnlyAdmin
from surveys.models import (
    Collector,
    Invitation,
    Response,
    Survey,
    SurveyPolicy,
    SurveyTexts,
    SurveyTranslation,
    Trigger,
)
from surveys.selectors import survey_nps, surveys_with_stats
from surveys.services.collectors import collector_links, collector_source_ensure, collector_tokens_set
from surveys.services.content import DEFAULT_TEXTS
from surveys.services.eligibility import Decision, eligibility_explain
from surveys.views import respond_preview

WEEKDAY_CHOICES = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
PREVIEW_EMAIL = "preview@example.com"
PREVIEW_FIRST_NAME = "Alex"


# --- Survey templates ------------------------------------------------------------------------------


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
        help_text=str(Survey._meta.get_field("send_window_days").help_text),
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
    class Meta:
        model = Trigger
        fields = ["source", "call_type", "event_name", "conditions", "enabled"]
        widgets = {"conditions": forms.Textarea({"rows": 2, "cols": 50})}

    def clean_conditions(self) -> Any:
        # An emptied box means "no conditions", not null; the model's clean() checks the rest.
        value = self.cleaned_data.get("conditions")
        return [] if value is None else value


class TriggerInline(admin.TabularInline[Trigger, Survey]):
    model = Trigger
    form = TriggerForm
    formfield_overrides = JSON_FORMFIELDS
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
class SurveyAdmin(admin.ModelAdmin[Survey]):
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
                "fields": ["sender_name", "sender_email", "reply_to", "company_name"],
                "description": "Who the email comes from, and the name that replaces {{ company }}.",
            },
        ),
        (
            "Email and question",
            {
                "fields": ["subject", "question", "low_label", "high_label"],
                "description": "The email's subject and the 0-10 question. Blank texts use the defaults.",
            },
        ),
        (
            "Follow-up question per score band",
            {"fields": ["followup_detractor", "followup_passive", "followup_promoter"]},
        ),
        ("Tag ratings", {"fields": ["tags", "tag_scale"]}),
        ("After answering", {"fields": ["thank_you"]}),
        ("Branding", {"fields": ["logo_url", "accent_color", "footer"]}),
        (
            "When to ask",
            {
                "fields": ["min_delay_days", "max_delay_days", "resurvey_interval_days", "token_expiry_days"],
                "description": "Min 3 / max 14: a new customer is asked 3 days after createdAt, and "
                "customers created more than 14 days ago are ignored. Max 0: every trigger may ask, "
                "once per re-survey interval.",
            },
        ),
        (
            "Send window",
            {
                "fields": [
                    "send_window_enabled",
                    "send_window_days",
                    "send_window_start",
                    "send_window_end",
                    "send_window_timezone",
                ]
            },
        ),
        ("Record", {"fields": ["created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Survey]:
        return surveys_with_stats(super().get_queryset(request)).prefetch_related("triggers__source")

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

    # --- Views of one survey: preview, send test, why (not) surveyed --------------------------------

    def get_urls(self) -> list[URLPattern]:
        def view(suffix: str, function: Any) -> URLPattern:
            return path(
                f"<path:object_id>/{suffix}/",
                self.admin_site.admin_view(function),
                name=f"surveys_survey_{suffix.replace('-', '_').replace('/', '_')}",
            )

        return [
            view("preview", self.preview_view),
            view("preview/respond", self.preview_respond_view),
            view("send-test", self.send_test_view),
            view("eligibility", self.eligibility_view),
            *super().get_urls(),
        ]

    def _survey(self, request: HttpRequest, object_id: str) -> Survey:
        survey = self.get_object(request, unquote(object_id))
        if survey is None:
            raise Http404(f"No survey with id {object_id}.")
        if not self.has_view_or_change_permission(request, survey):
            raise PermissionDenied
        return survey

    def _page(self, request: HttpRequest, survey: Survey, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": title,
            "subtitle": None,
            "opts": self.opts,
            "original": survey,
            "has_view_permission": True,
            **extra,
        }

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The email (HTML and text) and the response page, in the default language or a translation."""
        survey = self._survey(request, object_id)
        languages = survey_languages(survey)
        language = request.GET.get("language") or survey.default_language
        if language not in languages:
            language = survey.default_language
        email, error = preview_email(survey, language)
        context = self._page(
            request,
            survey,
            f"Preview {survey}",
            languages=languages,
            language=language,
            email=email,
            html=email_html(email) if email else "",
            error=error,
            respond_url=survey_page_url("preview_respond", survey, language=language),
            can_send_test=self.has_change_permission(request, survey),
        )
        return TemplateResponse(request, "admin/surveys/survey/preview.html", context)

    def preview_respond_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The public response page as a person sees it after clicking 9 in the email."""
        survey = self._survey(request, object_id)
        language = request.GET.get("language") or survey.default_language
        invitation = preview_invitation(survey, language)
        response = Response(invitation=invitation, survey=survey, rating=9, language=language)
        # The public page's own code, so the preview cannot drift from what people see.
        page = respond_preview(request, invitation=invitation, response=response)
        # Shown in an iframe of the preview page, which the default X-Frame-Options: DENY forbids.
        page["X-Frame-Options"] = "SAMEORIGIN"
        return page

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        survey = self._survey(request, object_id)
        if request.method != "POST":
            return HttpResponseRedirect(survey_page_url("preview", survey))
        if not self.has_change_permission(request, survey):  # as the action "send a test" (permissions)
            raise PermissionDenied
        language = request.POST.get("language") or survey.default_language
        send_test(request, survey, language)
        return HttpResponseRedirect(survey_page_url("preview", survey, language=language))

    @admin.action(description="Send a test of the selected surveys to me", permissions=["change"])
    def send_test_to_me(self, request: HttpRequest, queryset: QuerySet[Survey]) -> None:
        for survey in queryset:
            send_test(request, survey, survey.default_language)

    def eligibility_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Why (not) surveyed: the decision the hub would make now for one person, rule by rule."""
        survey = self._survey(request, object_id)
        query = request.GET.get("q", "").strip()
        person_id = request.GET.get("person", "")
        people: list[Person] = []
        if person_id.isdigit():
            people = list(Person.objects.filter(pk=int(person_id)).select_related("source"))
        elif query:
            people = people_find(survey, query)
        person = people[0] if len(people) == 1 else None
        decision: Decision | None = None
        now = timezone.now()
        if person is not None:
            decision = eligibility_explain(survey=survey, person=person, now=now)
        context = self._page(
            request,
            survey,
            f"Why (not) surveyed: {survey}",
            query=query or (person.user_id or person.email if person else ""),
            people=people,
            person=person,
            decision=decision,
            now=now,
            searched=bool(query or person_id),
        )
        return TemplateResponse(request, "admin/surveys/survey/eligibility.html", context)


def survey_page_url(page: str, survey: Survey, **query: Any) -> str:
    url = reverse(f"admin:surveys_survey_{page}", args=[survey.pk])
    return f"{url}?{urlencode(query)}" if query else url


def survey_languages(survey: Survey) -> list[str]:
    """The default language first, then each translation's."""
    languages = [survey.default_language]
    for translation in survey.translations.order_by("language"):
        if translation.language not in languages:
            languages.append(translation.language)
    return languages


def preview_invitation(survey: Survey, language: str) -> Invitation:
    """An unsaved invitation to a sample person ("Alex", preview@example.com) speaking `language`."""
    person = Person(
        email=PREVIEW_EMAIL, first_name=PREVIEW_FIRST_NAME, name=PREVIEW_FIRST_NAME, language=language
    )
    return Invitation(survey=survey, person=person, language=language, due_at=timezone.now())


def preview_email(survey: Survey, language: str) -> tuple[EmailMultiAlternatives | None, str]:
    """The invitation email for a sample person, rendered by the dispatcher (nothing is saved)."""
    try:
        from surveys.services.dispatch import invitation_email
    except ImportError:
        return None, "The email renderer (surveys.services.dispatch.invitation_email) is not installed yet."
    return invitation_email(invitation=preview_invitation(survey, language)), ""


def email_html(email: EmailMultiAlternatives) -> str:
    for content, mimetype in email.alternatives:
        if mimetype == "text/html":
            return str(content)
    return ""


def send_test(request: HttpRequest, survey: Survey, language: str) -> None:
    """Email the preview to the staff user, with a [Test] subject, and say so."""
    to = getattr(request.user, "email", "")
    if not to:
        messages.error(request, "Your user has no email address: add one to your user to receive tests.")
        return
    email, error = preview_email(survey, language)
    if email is None:
        messages.error(request, error)
        return
    email.to, email.cc, email.bcc = [to], [], []
    email.subject = f"[Test] {email.subject}"
    email.send()
    messages.success(request, f"Sent a test of {survey} ({language}) to {to}.")


def people_find(survey: Survey, query: str) -> list[Person]:
    """People whose userId or email is `query`, those of the survey's trigger sources first."""
    sources = set(survey.triggers.values_list("source_id", flat=True))
    found = Person.objects.filter(Q(user_id=query) | Q(email=query.lower())).select_related("source")[:20]
    return sorted(found, key=lambda p: (p.source_id not in sources, p.pk))


# --- What happened: invitations, responses --------------------------------------------------------


@admin.register(Invitation)
class InvitationAdmin(ReadOnlyAdmin):
    list_display = ["survey", "person", "status", "due_at", "sent_at", "short_error", "why"]
    list_filter = ["survey", "status"]
    search_fields = ["=person__email", "=person__user_id"]
    list_select_related = ["survey", "person"]
    ordering = ["-due_at"]
    show_full_result_count = False
    actions = ["cancel"]
    readonly_fields = (
        "survey",
        "person",
        "status",
        "language",
        "due_at",
        "claimed_at",
        "sent_at",
        "responded_at",
        "attempts",
        "error",
        "trigger_event",
        "created_at",
        "why",
    )
    fields = readonly_fields

    @admin.display(description="error")
    def short_error(self, obj: Invitation) -> str:
        return Truncator(obj.error).chars(80)

    @admin.display(description="why (not) surveyed")
    def why(self, obj: Invitation) -> str:
        if obj.person_id is None:
            return "-"
        url = survey_page_url("eligibility", obj.survey, person=obj.person_id)
        return format_html('<a href="{}">why (not) surveyed</a>', url)

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("surveys.change_invitation")

    @admin.action(description="Cancel the selected scheduled invitations", permissions=["cancel"])
    def cancel(self, request: HttpRequest, queryset: QuerySet[Invitation]) -> None:
        # Only scheduled ones: an invitation being sent (claimed) is past the point of no return.
        cancelled = queryset.filter(status=Invitation.Status.SCHEDULED).update(
            status=Invitation.Status.CANCELLED, error=f"cancelled in the admin by {request.user}"
        )
        skipped = queryset.count() - cancelled
        messages.success(request, f"Cancelled {cancelled} invitation(s).")
        if skipped:
            messages.warning(request, f"{skipped} invitation(s) were not scheduled: left as they were.")


class BandFilter(admin.SimpleListFilter):
    title = "band"
    parameter_name = "band"
    RANGES = {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(band, f"{band}s ({low}-{high})") for band, (low, high) in self.RANGES.items()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value not in self.RANGES:
            return queryset
        low, high = self.RANGES[value]
        return queryset.filter(rating__gte=low, rating__lte=high)


@admin.register(Response)
class ResponseAdmin(ReadOnlyAdmin):
    list_display = ["survey", "rating", "band", "comment_excerpt", "person", "answered_at"]
    list_filter = ["survey", BandFilter, "language", "answered_at"]
    search_fields = ["=person__email", "=person__user_id", "comment"]
    list_select_related = ["survey", "person"]
    ordering = ["-answered_at"]
    show_full_result_count = False
    readonly_fields = (
        "survey",
        "invitation",
        "person",
        "rating",
        "band",
        "comment",
        "tag_ratings",
        "language",
        "answered_at",
        "rated_at",
        "updated_at",
    )
    fields = readonly_fields

    @admin.display(description="band")
    def band(self, obj: Response) -> str:
        return obj.band

    @admin.display(description="comment")
    def comment_excerpt(self, obj: Response) -> str:
        return Truncator(obj.comment).chars(80)


@admin.register(SurveyPolicy)
class SurveyPolicyAdmin(admin.ModelAdmin[SurveyPolicy]):
    """One row: the list opens it directly."""

    fields = ["global_cap_days"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: SurveyPolicy | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        policy = SurveyPolicy.current()
        return HttpResponseRedirect(reverse("admin:surveys_surveypolicy_change", args=[policy.pk]))


# --- Collectors: webhook-triggered invitations ----------------------------------------------------------


SECRET_FIELDS = ("intercom_client_secret", "intercom_access_token")


class CollectorForm(forms.ModelForm[Collector]):
    """Secrets are write-only: typed into empty boxes, kept when left empty."""

    new_intercom_client_secret = forms.CharField(
        label="Intercom client secret",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"size": 50, "autocomplete": "off"}),
        help_text=str(Collector._meta.get_field("intercom_client_secret").help_text) + " Empty: unchanged.",
    )
    new_intercom_access_token = forms.CharField(
        label="Intercom access token",
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"size": 50, "autocomplete": "off"}),
        help_text=str(Collector._meta.get_field("intercom_access_token").help_text) + " Empty: unchanged.",
    )
    remove_intercom_secrets = forms.BooleanField(
        label="remove the Intercom secrets",
        required=False,
        help_text="Forget the client secret and the token.",
    )

    class Meta:
        model = Collector
        fields = [
            "survey",
            "name",
            "channel",
            "enabled",
            "delay_minutes",
            "resurvey_days",
            "topic_actions",
            "unsigned_calls",
        ]
        widgets = {"topic_actions": forms.Textarea({"rows": 3, "cols": 70})}

    def clean_topic_actions(self) -> Any:
        value = self.cleaned_data.get("topic_actions")
        return {} if value is None else value

    def save(self, commit: bool = True) -> Collector:
        collector = super().save(commit=False)
        if self.cleaned_data.get("remove_intercom_secrets"):
            for name in SECRET_FIELDS:
                setattr(collector, name, "")
        for name in SECRET_FIELDS:
            value = self.cleaned_data.get(f"new_{name}")
            if value:
                setattr(collector, name, value)
        if commit:
            collector.save()
        return collector


@admin.register(Collector)
class CollectorAdmin(admin.ModelAdmin[Collector]):
    form = CollectorForm
    formfield_overrides = JSON_FORMFIELDS
    list_display = ["name", "survey", "channel", "enabled", "delay_minutes", "intercom", "source"]
    list_editable = ["enabled"]
    list_filter = ["enabled", "channel", "survey"]
    list_select_related = ["survey", "source"]
    search_fields = ["name", "survey__name"]
    readonly_fields = ["api_links", "intercom", "source", "created_at", "updated_at"]
    actions = ["rotate_token"]
    fieldsets = [
        (None, {"fields": ["survey", "name", "channel", "enabled"]}),
        (
            "API link",
            {
                "fields": ["api_links"],
                "description": "Paste a link into the other tool. The Intercom webhook link goes into an "
                "Intercom app (subscribed to conversation.admin.closed); once the Intercom client secret "
                "is set below it takes only notifications Intercom signed. The other links, with their "
                "own token, are for any other tool: POST JSON or a form with email, name, language, "
                "user_id (other fields are kept as traits). On a collector with an Intercom client "
                "secret they are refused unless 'accept unsigned calls from other tools' is on.",
            },
        ),
        ("When to invite", {"fields": ["delay_minutes", "resurvey_days"]}),
        (
            "Intercom",
            {
                "fields": [
                    "topic_actions",
                    "intercom",
                    "new_intercom_client_secret",
                    "new_intercom_access_token",
                    "remove_intercom_secrets",
                    "unsigned_calls",
                ]
            },
        ),
        ("Record", {"fields": ["source", "created_at", "updated_at"], "classes": ["collapse"]}),
    ]

    class Media:
        js = ["integrations/secret.js"]
        css = {"all": ["integrations/admin.css"]}

    @admin.display(description="API links")
    def api_links(self, obj: Collector) -> str:
        """Each link masked, with Show and Copy buttons (integrations/static/integrations/secret.js)."""
        if not obj.pk:
            return "generated when saved"
        generic_refused = bool(obj.intercom_client_secret) and not obj.unsigned_calls
        other = " (refused: unsigned calls are off)" if generic_refused else ""
        labels = {
            "intercom_link": "Intercom webhook" + (" (signed only)" if obj.intercom_client_secret else ""),
            "api_link": f"add a contact (other tools){other}",
            "turn_on_link": f"turn on{other}",
            "turn_off_link": f"turn off{other}",
        }
        links = collector_links(obj)
        return format_html_join(
            "",
            '<div class="hub-secret" style="margin-bottom:4px"><input type="password" readonly value="{}" '
            'size="80" aria-label="{}" class="hub-secret-value"> '
            '<button type="button" class="button hub-reveal">Show</button> '
            '<button type="button" class="button hub-copy">Copy</button> {}</div>',
            ((links[key], label, label) for key, label in labels.items()),
        )

    @admin.display(description="Intercom secrets")
    def intercom(self, obj: Collector) -> str:
        have = [
            label
            for name, label in zip(
                SECRET_FIELDS, ("client secret (signatures checked)", "access token"), strict=True
            )
            if getattr(obj, name)
        ]
        return ", ".join(have) or "none (calls are checked by the link's token only)"

    def save_model(self, request: HttpRequest, obj: Collector, form: Any, change: bool) -> None:
        if not change:
            collector_tokens_set(obj)
        super().save_model(request, obj, form, change)
        collector_source_ensure(obj)

    @admin.action(description="Generate new tokens (the old links stop working)", permissions=["change"])
    def rotate_token(self, request: HttpRequest, queryset: QuerySet[Collector]) -> None:
        for collector in queryset:
            collector_tokens_set(collector)
            collector.save(
                update_fields=["token", "token_hash", "generic_token", "generic_token_hash", "updated_at"]
            )
        messages.success(request, f"New token for {queryset.count()} collector(s): copy the new links.")
