"""The event log: every call received, read-only, with "reprocess" for the ones that failed."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from hub.admin import (
    LogAdmin,
    excerpt,
    help_text_of,
    to_the_second,
)
from integrations import services
from integrations.models import InboundEvent


class InboundEventForm(forms.ModelForm[InboundEvent]):
    class Meta:
        help_texts = {"pretty_payload": help_text_of(InboundEvent, "payload")}


@admin.register(InboundEvent)
class InboundEventAdmin(LogAdmin):
    form = InboundEventForm
    list_display = ["received", "source", "type", "who", "event", "status_label", "reason_short"]
    list_filter = ["status", "type", "source", "received_at"]
    search_fields = ["=message_id", "=user_id", "=anonymous_id", "event"]
    list_select_related = ["source"]
    # No date_hierarchy: it runs MIN/MAX and DISTINCT dates over the whole log on every page view;
    # the received_at filter (today, past 7 days, ...) needs no query.
    actions = ["reprocess"]
    fields = (
        "source",
        "type",
        "status",
        "reason",
        "message_id",
        "user_id",
        "anonymous_id",
        "event",
        "received_at",
        "timestamp",
        "original_timestamp",
        "sent_at",
        "processed_at",
        "attempts",
        "pretty_payload",
    )
    readonly_fields = fields

    @admin.display(description="received at", ordering="received_at")
    def received(self, obj: InboundEvent) -> str:
        # To the second: a log's rows are told apart by time.
        return to_the_second(obj.received_at)

    @admin.display(description="user", ordering="user_id")
    def who(self, obj: InboundEvent) -> str:
        return obj.user_id or (f"anon {obj.anonymous_id}" if obj.anonymous_id else "")

    @admin.display(description="reason")
    def reason_short(self, obj: InboundEvent) -> str:
        return excerpt(obj.reason, 120)

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        # The log is read-only (LogAdmin): reprocessing is what "change" means for an event.
        return request.user.has_perm("integrations.change_inboundevent")

    @admin.action(description="Reprocess selected events", permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        done = services.inbound_events_reprocess(ids=ids)
        messages.success(request, f"Reprocessed {done} of {len(ids)} event(s); rejected events are skipped.")
