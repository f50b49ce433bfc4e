"""Invitations: who was (or will be) asked, when, what happened; cancel the scheduled ones."""

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html
from django.utils.text import Truncator

from hub.admin import ReadOnlyAdmin
from surveys.admin.pages import survey_page_url
from surveys.models import Invitation
from surveys.services.invitations import invitations_cancel


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
        ids = list(queryset.values_list("pk", flat=True))
        cancelled = invitations_cancel(ids=ids, reason=f"cancelled in the admin by {request.user}")
        messages.success(request, f"Cancelled {cancelled} invitation(s).")
        if len(ids) > cancelled:
            messages.warning(
                request, f"{len(ids) - cancelled} invitation(s) were not scheduled: left as they were."
            )
