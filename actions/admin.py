"""Acting on answers in the operations console: alert rules and what they fired, auto-replies and what
was sent, cases (list with their age, filters, and the case page where staff work it: owner, status,
due date, notes, a reply to the customer, closing with "did we solve it?"). What a screen does is a
service's (actions/services/), what it shows a selector's (actions/selectors.py)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect

from actions.models import AlertFiring, AlertRule, AutoReply, AutoReplySend, Case, CaseEntry
from actions.selectors import case_age, cases_overdue, duration_text
from actions.services.cases import REPLY_MAX_LENGTH, CaseError, case_save
from hub.admin import JSON_FORMFIELDS, ReadOnlyAdmin, excerpt


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin[AlertRule]):
    list_display = ["name", "survey", "timing", "enabled"]
    list_filter = ["enabled", "timing", "survey"]
    filter_horizontal = ["destinations"]
    formfield_overrides = JSON_FORMFIELDS
    fieldsets = [
        (None, {"fields": ["name", "enabled", "survey", "timing", "destinations"]}),
        (
            "Which answers (every condition given must hold)",
            {
                "fields": [
                    "bands",
                    "score_min",
                    "score_max",
                    "comment_contains",
                    "conditions",
                    "changed_to_detractor",
                ]
            },
        ),
    ]


@admin.register(AlertFiring)
class AlertFiringAdmin(ReadOnlyAdmin):
    list_display = ["rule", "response", "fired_at", "digested_at"]
    list_filter = ["rule", "fired_at"]
    list_select_related = ["rule", "response__survey"]
    ordering = ["-fired_at"]


@admin.register(AutoReply)
class AutoReplyAdmin(admin.ModelAdmin[AutoReply]):
    list_display = ["name", "survey", "band", "language", "delay_minutes", "enabled"]
    list_filter = ["enabled", "band", "language", "survey"]


@admin.register(AutoReplySend)
class AutoReplySendAdmin(ReadOnlyAdmin):
    list_display = ["response", "status", "due_at", "sent_at", "reply", "reason"]
    list_filter = ["status", "due_at"]
    list_select_related = ["response__survey", "reply"]
    ordering = ["-due_at"]


class OverdueFilter(admin.SimpleListFilter):
    title = "due"
    parameter_name = "overdue"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "overdue")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return cases_overdue(queryset) if self.value() == "yes" else queryset


class CaseEntryInline(admin.TabularInline[CaseEntry, Case]):
    model = CaseEntry
    fields = ("created_at", "kind", "author", "text")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "log"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CaseForm(forms.ModelForm[Case]):
    """The case's own fields, and what staff do with it: a note, a reply to the customer, the follow-up."""

    note = forms.CharField(
        label="Add a note",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Only staff see notes.",
    )
    reply = forms.CharField(
        label="Reply to the customer",
        required=False,
        max_length=REPLY_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Emailed to the customer from the survey's sender when you save, and logged on the case.",
    )
    send_followup = forms.BooleanField(
        label="Ask “did we solve it?” when closing",
        required=False,
        help_text="With status closed: emails the customer a one-question link; the answer is recorded here.",
    )

    class Meta:
        model = Case
        fields = ["owner", "status", "due_at"]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin[Case]):
    form = CaseForm
    list_display = [
        "__str__",
        "rating",
        "comment_excerpt",
        "person",
        "owner",
        "status",
        "age",
        "due_at",
        "solved",
    ]
    list_filter = ["status", OverdueFilter, "owner", "survey", "solved", "opened_at"]
    list_select_related = ["response", "survey", "person", "owner"]
    search_fields = ["=person__email", "=person__user_id", "response__comment"]
    readonly_fields = [
        "survey",
        "person",
        "rating",
        "comment",
        "opened_at",
        "age",
        "closed_at",
        "followup_sent_at",
        "solved",
    ]
    fieldsets = [
        ("The answer", {"fields": ["survey", "person", "rating", "comment"]}),
        ("The case", {"fields": ["owner", "status", "due_at", "opened_at", "age", "closed_at"]}),
        ("Work it", {"fields": ["note", "reply", "send_followup", "followup_sent_at", "solved"]}),
    ]
    inlines = [CaseEntryInline]

    def response_change(self, request: HttpRequest, obj: Case) -> HttpResponse:
        if getattr(request, "case_save_refused", False):  # no "changed successfully" after a refusal
            return HttpResponseRedirect(request.path)  # back to the case, the error message shown
        return super().response_change(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # a detractor's answer opens a case

    @admin.display(description="score", ordering="response__rating")
    def rating(self, obj: Case) -> str:
        return f"{obj.response.rating}/10"

    @admin.display(description="comment")
    def comment(self, obj: Case) -> str:
        return obj.response.comment

    @admin.display(description="comment")
    def comment_excerpt(self, obj: Case) -> str:
        return excerpt(obj.response.comment, 80)

    @admin.display(description="age", ordering="opened_at")
    def age(self, obj: Case) -> str:
        return duration_text(case_age(obj)) if obj.pk else ""

    def save_model(self, request: HttpRequest, obj: Case, form: Any, change: bool) -> None:
        previous = Case.objects.filter(pk=obj.pk).values_list("status", flat=True).first() or obj.status
        try:
            done = case_save(
                case=obj,
                by=request.user,
                changed=form.changed_data,
                previous_status=previous,
                note=form.cleaned_data.get("note", ""),
                reply=form.cleaned_data.get("reply", ""),
                followup=form.cleaned_data.get("send_followup", False),
            )
        except CaseError as exc:
            obj.refresh_from_db()
            self.message_user(request, f"Nothing was saved: {exc}", messages.ERROR)
            request.case_save_refused = True  # type: ignore[attr-defined]  # read by response_change
            return
        if done:
            self.message_user(request, "Done: " + ", ".join(done) + ".", messages.SUCCESS)
