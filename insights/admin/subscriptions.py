"""Report emails in the admin: staff subscribe to weekly or monthly reports, and the ledger of what was
sent. Every staff member who may see the NPS reports manages their own subscriptions; the model permissions
(add/change/delete/view report subscription) let a staff member manage everyone's."""

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html_join

from hub.admin import ReadOnlyAdmin, excerpt, to_the_second
from insights.models import ReportSending, ReportSubscription
from insights.periods import zone_names
from insights.selectors import report_sendings_recent, report_subscription_next
from insights.services.report_subscriptions import REPORT_PERMISSIONS, recipient_problem


def _may_subscribe(request: HttpRequest) -> bool:
    """Staff who may see the reports manage their own subscriptions, whatever their other permissions."""
    user = request.user
    return bool(user.is_active and user.is_staff and user.has_perms(REPORT_PERMISSIONS))


def _manages_others(request: HttpRequest, action: str) -> bool:
    return request.user.has_perm(f"insights.{action}_reportsubscription")


class SubscriptionForm(forms.ModelForm[ReportSubscription]):
    time_zone = forms.ChoiceField(
        choices=[(name, name) for name in sorted(zone_names())],
        initial="UTC",
        help_text=ReportSubscription._meta.get_field("time_zone").help_text,
    )

    class Meta:
        model = ReportSubscription
        fields = ("user", "survey", "frequency", "time_zone", "active")

    def clean_user(self) -> Any:
        user = self.cleaned_data["user"]
        if (problem := recipient_problem(user)) is not None:
            raise forms.ValidationError(f"{user} cannot receive reports: {problem}.")
        return user


@admin.register(ReportSubscription)
class ReportSubscriptionAdmin(admin.ModelAdmin[ReportSubscription]):
    form = SubscriptionForm
    list_display = ("user", "report_of", "frequency", "time_zone", "active", "next_report", "last_sent")
    list_filter = ("frequency", "active", ("survey", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("user", "survey")
    search_fields = ("user__username", "survey__name")
    readonly_fields = ("next_report", "recent_emails", "created_at")

    def get_fields(self, request: HttpRequest, obj: ReportSubscription | None = None) -> Any:
        fields = ["user", "survey", "frequency", "time_zone", "active"]
        return fields + (["next_report", "recent_emails", "created_at"] if obj is not None else [])

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        user_field = form.base_fields.get("user")
        if user_field is not None and not _manages_others(request, "change" if obj else "add"):
            # Only oneself: the field stays in the form (so the one-per-user rule is checked) but fixed.
            assert isinstance(user_field, forms.ModelChoiceField)
            user_field.queryset = get_user_model().objects.filter(pk=request.user.pk or 0)
            user_field.initial = request.user.pk
            user_field.disabled = True
        elif isinstance(user_field, forms.ModelChoiceField):
            user_field.queryset = get_user_model().objects.filter(is_staff=True, is_active=True)
            user_field.initial = request.user.pk
        return form

    def get_queryset(self, request: HttpRequest) -> QuerySet[ReportSubscription]:
        queryset = super().get_queryset(request)
        if _manages_others(request, "view") or _manages_others(request, "change"):
            return queryset
        return queryset.filter(user=request.user.pk)

    # --- one's own subscriptions need no model permission ------------------------------------------
    def _own(self, request: HttpRequest, obj: ReportSubscription | None) -> bool:
        return _may_subscribe(request) and (obj is None or obj.user_id == request.user.pk)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return super().has_module_permission(request) or _may_subscribe(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_view_permission(request, obj) or self._own(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) or _may_subscribe(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) or self._own(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) or self._own(request, obj)

    # --- what it will send and has sent --------------------------------------------------------------
    @admin.display(description="report of", ordering="survey__name")
    def report_of(self, obj: ReportSubscription) -> str:
        return str(obj.survey) if obj.survey_id else "every survey (hub-wide)"

    @admin.display(description="next report")
    def next_report(self, obj: ReportSubscription) -> str:
        if not obj.active:
            return "paused"
        period, when = report_subscription_next(subscription=obj, now=timezone.now())
        if when is None:
            return f"{period.key}: due, at the next run of the beat task"
        return f"{period.key}, from {timezone.localtime(when, period.tzinfo):%Y-%m-%d %H:%M} {period.zone}"

    @admin.display(description="last sent")
    def last_sent(self, obj: ReportSubscription) -> str:
        last = report_sendings_recent(subscription=obj, limit=1).first()
        return f"{last.period} ({last.status})" if last is not None else "—"

    @admin.display(description="recent emails (the ledger)")
    def recent_emails(self, obj: ReportSubscription) -> str:
        rows = report_sendings_recent(subscription=obj)
        if not rows:
            return "none yet"
        return format_html_join(
            "",
            "<div>{}: {} {}</div>",
            (
                (row.period, row.status, to_the_second(row.sent_at) if row.sent_at else row.error[:200])
                for row in rows
            ),
        )


@admin.register(ReportSending)
class ReportSendingAdmin(ReadOnlyAdmin):
    """The ledger: one row per subscription and period. Deleting a row lets that period be sent again
    (by the next beat run if it is the latest period, or by `manage.py report_send`)."""

    list_display = ("period", "subscription", "status", "attempts", "claimed", "sent", "error_excerpt")
    list_filter = ("status", "subscription__frequency")
    list_select_related = ("subscription__user", "subscription__survey")
    search_fields = ("period",)
    fields = (
        "subscription",
        "period",
        "period_start",
        "period_end",
        "status",
        "attempts",
        "claimed_at",
        "sent_at",
        "error",
    )
    readonly_fields = fields

    @admin.display(description="claimed", ordering="claimed_at")
    def claimed(self, obj: ReportSending) -> str:
        return to_the_second(obj.claimed_at)

    @admin.display(description="sent", ordering="sent_at")
    def sent(self, obj: ReportSending) -> str:
        return to_the_second(obj.sent_at)

    @admin.display(description="error")
    def error_excerpt(self, obj: ReportSending) -> str:
        return excerpt(obj.error, 120)
