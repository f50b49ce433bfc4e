"""The operations console for sources and the event log."""

from typing import Any, cast

import orjson
from django import forms
from django.contrib import admin, messages
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.dateformat import format as date_format
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.timezone import localtime

from integrations import services
from integrations.models import InboundEvent, Source, WriteKey


def _help(model: type[Any], field: str) -> str:
    return str(model._meta.get_field(field).help_text)


class WriteKeyForm(forms.ModelForm[WriteKey]):
    class Meta:
        # The clear key is shown by a display method: give it the model field's help text.
        help_texts = {"reveal": _help(WriteKey, "key")}


class WriteKeyInline(admin.TabularInline[WriteKey, Source]):
    model = WriteKey
    form = WriteKeyForm
    extra = 0
    fields = ["hint", "reveal", "label", "enabled", "created_at"]
    readonly_fields = ["hint", "reveal", "created_at"]

    @admin.display(description="write key")
    def reveal(self, obj: WriteKey) -> str:
        """The key in clear, only on the source's own page, with a copy button."""
        if not obj.pk:
            return "generated when saved"
        return format_html(
            '<span class="hub-secret"><input type="password" readonly value="{}" size="34" '
            'aria-label="write key" class="hub-secret-value">'
            '<button type="button" class="button hub-reveal">Show</button> '
            '<button type="button" class="button hub-copy">Copy</button></span>',
            obj.key,
        )

    def has_add_permission(self, request: HttpRequest, obj: Source | None = None) -> bool:
        # New keys come from the "generate a new write key" action so their value is never typed in.
        return False


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin[Source]):
    list_display = ["name", "slug", "enabled", "keys", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [WriteKeyInline]
    actions = ["generate_write_key"]

    class Media:
        js = ["integrations/secret.js"]
        css = {"all": ["integrations/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Source]:
        return super().get_queryset(request).prefetch_related("write_keys")

    @admin.display(description="write keys")
    def keys(self, obj: Source) -> str:
        return ", ".join(k.hint for k in obj.write_keys.all() if k.enabled) or "none"

    def save_model(self, request: HttpRequest, obj: Source, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not change:
            services.write_key_add(source=obj)
            messages.info(request, "A write key was generated; copy it from the source's page.")

    @admin.action(description="Generate a new write key")
    def generate_write_key(self, request: HttpRequest, queryset: QuerySet[Source]) -> None:
        for source in queryset:
            services.write_key_add(source=source)
        messages.success(request, f"Generated a new write key for {queryset.count()} source(s).")


class EventLogPaginator(Paginator):
    """Counts at most COUNT_LIMIT rows: the unfiltered log would otherwise be COUNT(*)-ed in full."""

    COUNT_LIMIT = 10_000

    @cached_property
    def count(self) -> int:
        # COUNT(*) over a LIMITed subquery: bounded work however large the table is.
        queryset = cast("QuerySet[InboundEvent]", self.object_list)
        return queryset.order_by()[: self.COUNT_LIMIT].count()


class InboundEventForm(forms.ModelForm[InboundEvent]):
    class Meta:
        help_texts = {"pretty_payload": _help(InboundEvent, "payload")}


@admin.register(InboundEvent)
class InboundEventAdmin(admin.ModelAdmin[InboundEvent]):
    form = InboundEventForm
    list_display = ["received", "source", "type", "who", "event", "status_label", "reason_short"]
    list_filter = ["status", "type", "source", "received_at"]
    search_fields = ["=message_id", "=user_id", "=anonymous_id", "event"]
    list_select_related = ["source"]
    # No date_hierarchy: it runs MIN/MAX and DISTINCT dates over the whole log on every page view;
    # the received_at filter (today, past 7 days, ...) needs no query.
    ordering = ["-id"]
    paginator = EventLogPaginator
    show_full_result_count = False  # the log is large: no COUNT(*) of the whole table
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

    class Media:
        css = {"all": ["integrations/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: InboundEvent | None = None) -> bool:
        return False

    @admin.display(description="received at", ordering="received_at")
    def received(self, obj: InboundEvent) -> str:
        # To the second: a log's rows are told apart by time.
        return date_format(localtime(obj.received_at), "Y-m-d H:i:s")

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: InboundEvent) -> str:
        return format_html('<span class="hub-status hub-status-{}">{}</span>', obj.status, obj.status)

    @admin.display(description="user", ordering="user_id")
    def who(self, obj: InboundEvent) -> str:
        return obj.user_id or (f"anon {obj.anonymous_id}" if obj.anonymous_id else "")

    @admin.display(description="reason")
    def reason_short(self, obj: InboundEvent) -> str:
        if len(obj.reason) <= 120:
            return obj.reason
        return format_html('<span title="{}">{}…</span>', obj.reason, obj.reason[:120])

    @admin.display(description="payload")
    def pretty_payload(self, obj: InboundEvent) -> str:
        text = orjson.dumps(obj.payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
        return format_html('<pre class="hub-payload">{}</pre>', text)

    @admin.action(description="Reprocess selected events")
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        done = services.inbound_events_reprocess(ids=ids)
        messages.success(request, f"Reprocessed {done} of {len(ids)} event(s); rejected events are skipped.")
