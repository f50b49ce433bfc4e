"""The operations console for sources, the event log, attribute mappings, destinations and deliveries."""

import json
from typing import Any, cast

import orjson
from axes import admin as axes_admin
from axes.models import AccessAttempt
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template import engines
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.functional import cached_property
from django.utils.html import format_html
from django.utils.text import capfirst
from django_celery_beat import admin as beat_admin
from django_celery_beat.models import PeriodicTask

from hub.admin import (
    JSON_FORMFIELDS,
    ReadOnlyAdmin,
    StorableJSONField,
    action_needing,
    excerpt,
    pretty_json,
    status_badge,
    to_the_second,
)
from integrations import registry, services
from integrations.base import event_type_choices, problem_field
from integrations.deliveries import deliveries_replay, deliveries_replay_dead, destination_send_test
from integrations.mappings import mapping_apply, mapping_compile
from integrations.models import Delivery, Destination, InboundEvent, MappingRule, MappingSet, Source, WriteKey
from integrations.segment.calls import CALL_TYPES


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

    @admin.action(description="Generate a new write key", permissions=["change"])
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
class InboundEventAdmin(ReadOnlyAdmin):
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

    @admin.display(description="received at", ordering="received_at")
    def received(self, obj: InboundEvent) -> str:
        # To the second: a log's rows are told apart by time.
        return to_the_second(obj.received_at)

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: InboundEvent) -> str:
        return status_badge(obj.status)

    @admin.display(description="user", ordering="user_id")
    def who(self, obj: InboundEvent) -> str:
        return obj.user_id or (f"anon {obj.anonymous_id}" if obj.anonymous_id else "")

    @admin.display(description="reason")
    def reason_short(self, obj: InboundEvent) -> str:
        return excerpt(obj.reason, 120)

    @admin.display(description="payload")
    def pretty_payload(self, obj: InboundEvent) -> str:
        return pretty_json(obj.payload)

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        # The log is read-only (ReadOnlyAdmin): reprocessing is what "change" means for an event.
        return request.user.has_perm("integrations.change_inboundevent")

    @admin.action(description="Reprocess selected events", permissions=["reprocess"])
    def reprocess(self, request: HttpRequest, queryset: QuerySet[InboundEvent]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        done = services.inbound_events_reprocess(ids=ids)
        messages.success(request, f"Reprocessed {done} of {len(ids)} event(s); rejected events are skipped.")


# --- attribute mappings --------------------------------------------------------------------------

# What "Try it" starts from: a call of the set's type carrying the traits the shipped presets read.
SAMPLE_CALLS: dict[str, dict[str, Any]] = {
    "identify": {
        "type": "identify",
        "userId": "user-4711",
        "timestamp": "2026-11-01T09:00:00.123Z",
        "context": {"locale": "nl-BE", "ip": "203.0.113.7"},
        "traits": {
            "account_id": "acme-bv",
            "user_id": "user-4711",
            "email": "ann.peeters@acme.example",
            "firstName": "Ann",
            "lastName": "Peeters",
            "createdAt": "2023-11-14T22:13:20.600Z",
            "updatedAt": "2026-11-01T09:00:00Z",
            "phone": "+32 9 123 45 67",
            "title": "Head of Support",
            "role": "admin",
            "birthday": "1990-05-17",
            "language": "nl",
            "team": "Brugge",
            "address": {
                "street": "Veldstraat 1",
                "city": "Gent",
                "state": "Oost-Vlaanderen",
                "postalCode": "9000",
                "country": "BE",
            },
        },
    },
    "group": {
        "type": "group",
        "userId": "user-4711",
        "groupId": "acme-bv",
        "timestamp": "2026-11-01T09:00:00.123Z",
        "traits": {
            "name": "Acme BV",
            "email": "billing@acme.example",
            "createdAt": "2019-03-01T00:00:00Z",
            "employees": 120,
            "industry": "Logistics",
            "phone": "+32 9 000 00 00",
            "plan": "Enterprise",
            "stage": "Onboarding",
            "licenses": 50,
            "address": {
                "street": "Kortrijksesteenweg 1000",
                "city": "Gent",
                "postalCode": "9051",
                "country": "BE",
            },
        },
    },
    "track": {
        "type": "track",
        "userId": "user-4711",
        "event": "Project Created",
        "timestamp": "2026-11-01T09:00:00.123Z",
        "properties": {"account_id": "acme-bv", "user_id": "user-4711", "product_id": "Planner", "total": 1},
    },
    "page": {
        "type": "page",
        "userId": "user-4711",
        "name": "Pricing",
        "timestamp": "2026-11-01T09:00:00.123Z",
        "properties": {"path": "/pricing", "url": "https://www.example.com/pricing", "title": "Pricing"},
    },
}
SAMPLE_CALLS["screen"] = {**SAMPLE_CALLS["page"], "type": "screen"}
SAMPLE_CALLS["alias"] = {"type": "alias", "previousId": "anon-507f", "userId": "user-4711"}


def call_parse(text: str) -> tuple[dict[str, Any] | None, str]:
    """The pasted call, or why it cannot be mapped (in words a person can act on)."""
    try:
        call = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"Invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}."
    if isinstance(call, dict) and isinstance(call.get("batch"), list):
        return None, 'This is a batch: paste one of the calls inside its "batch" list.'
    if not isinstance(call, dict):
        return (
            None,
            'A Segment call is a JSON object, e.g. {"type": "identify", "userId": "u1", "traits": {}}.',
        )
    return call, ""


class MappingSetForm(forms.ModelForm[MappingSet]):
    call_types = forms.MultipleChoiceField(
        label=capfirst(MappingSet._meta.get_field("call_types").verbose_name),
        help_text=_help(MappingSet, "call_types"),
        choices=[(t, t) for t in CALL_TYPES],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = MappingSet
        fields = ["name", "slug", "target", "call_types", "description"]


class _Typed(str):
    """Text as the person typed it (a re-shown form): shown back unchanged."""


class JSONOrTextField(forms.CharField):
    """A default as staff think of it: General is the text "General"; 0, true, {"a": 1} are JSON."""

    def to_python(self, value: Any) -> Any:
        text = super().to_python(value)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def bound_data(self, data: Any, initial: Any) -> Any:
        return _Typed(data or "")

    def prepare_value(self, value: Any) -> Any:
        if value is None or isinstance(value, _Typed):
            return value or ""
        if isinstance(value, str):
            try:
                json.loads(value)
            except ValueError:
                return value  # plain text reads back as itself
        return json.dumps(value, ensure_ascii=False)


class MappingRuleForm(forms.ModelForm[MappingRule]):
    default = JSONOrTextField(
        label="default",
        required=False,
        help_text=_help(MappingRule, "default"),
        widget=forms.TextInput({"size": 10}),
    )

    class Meta:
        model = MappingRule
        fields = ["position", "source_paths", "target", "transform", "options", "default", "required"]
        widgets = {
            "source_paths": forms.TextInput({"size": 30}),
            "target": forms.TextInput({"size": 16}),
            "options": forms.Textarea({"rows": 1, "cols": 16}),
        }


class MappingRuleFormSet(forms.BaseInlineFormSet):
    def clean(self) -> None:
        """No two rules may write one field, nor one a field and another inside it (a / a.b)."""
        super().clean()
        seen: dict[tuple[str, ...], str] = {}
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if not data or data.get("DELETE") or not data.get("target"):
                continue
            target: str = data["target"].strip()
            path = tuple(part.strip() for part in target.split("."))
            for other_path, other in seen.items():
                if other_path[: len(path)] == path or path[: len(other_path)] == other_path:
                    form.add_error("target", f"Another rule already writes {other}.")
                    break
            else:
                seen[path] = target


class MappingRuleInline(admin.TabularInline[MappingRule, MappingSet]):
    model = MappingRule
    form = MappingRuleForm
    formfield_overrides = JSON_FORMFIELDS
    formset = MappingRuleFormSet
    extra = 1
    ordering = ["position", "id"]


@admin.register(MappingSet)
class MappingSetAdmin(admin.ModelAdmin[MappingSet]):
    form = MappingSetForm
    list_display = ["name", "target", "rule_count", "call_type_list", "is_preset", "updated_at"]
    list_filter = ["is_preset", "target"]
    search_fields = ["name", "target", "rules__target", "rules__source_paths"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MappingRuleInline]
    change_form_template = "admin/integrations/mappingset/change_form.html"

    def get_queryset(self, request: HttpRequest) -> QuerySet[MappingSet]:
        return super().get_queryset(request).annotate(rule_count=Count("rules"))

    @admin.display(description="rules", ordering="rule_count")
    def rule_count(self, obj: MappingSet) -> int:
        return cast(int, getattr(obj, "rule_count", 0))

    @admin.display(description="call types")
    def call_type_list(self, obj: MappingSet) -> str:
        return ", ".join(obj.call_types) or "any"

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is not MappingRule:
            return super().save_formset(request, form, formset, change)
        # A rule added without a position goes after the others.
        last = max((f.cleaned_data.get("position") or 0 for f in formset.forms if f.cleaned_data), default=0)
        rules = formset.save(commit=False)
        for rule in rules:
            if rule.pk is None and not rule.position:
                last += 10
                rule.position = last
            rule.save()
        for obj in formset.deleted_objects:
            obj.delete()

    def get_urls(self) -> list[URLPattern]:
        try_it = path(
            "<path:object_id>/try/",
            self.admin_site.admin_view(self.try_view),
            name="integrations_mappingset_try",
        )
        return [try_it, *super().get_urls()]

    def try_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Paste a Segment call, see what the set makes of it: the output, and each rule's problem."""
        mapping_set = self.get_object(request, unquote(object_id))
        if mapping_set is None:
            raise Http404(f"No attribute mapping with id {object_id}.")
        if not self.has_view_or_change_permission(request, mapping_set):
            raise PermissionDenied
        sample = SAMPLE_CALLS.get(next(iter(mapping_set.call_types), "identify"), SAMPLE_CALLS["identify"])
        text = orjson.dumps(sample, option=orjson.OPT_INDENT_2).decode()
        error, output, problems = "", "", None
        if request.method == "POST":
            text = request.POST.get("call", "")
            call, error = call_parse(text)
            if call is not None:
                result = mapping_apply(mapping=mapping_compile(mapping_set=mapping_set), call=call)
                output = json.dumps(result.output, indent=2, ensure_ascii=False)
                problems = result.problems
        context = {
            **self.admin_site.each_context(request),
            "title": f"Try {mapping_set}",
            "subtitle": None,
            "opts": self.opts,
            "original": mapping_set,
            "has_view_permission": True,
            "call_text": text,
            "error": error,
            "output": output,
            "problems": problems,
        }
        return TemplateResponse(request, "admin/integrations/mappingset/try.html", context)


# --- outbound: destinations and deliveries -----------------------------------------------------------


def _pretty_body(body: str) -> str:
    """A body as sent or received: indented when it is JSON, as it came otherwise."""
    try:
        return pretty_json(json.loads(body)) if body else pretty_json("")
    except ValueError:
        return pretty_json(body)


def _exchange_request(exchange: dict[str, Any] | None) -> str:
    if not exchange:
        return pretty_json(None)
    headers = "\n".join(f"{k}: {v}" for k, v in exchange.get("request_headers", {}).items())
    return format_html(
        '<pre class="hub-payload">{} {}\n{}</pre>{}',
        exchange.get("method", ""),
        exchange.get("url", ""),
        headers,
        _pretty_body(exchange.get("request_body", "")),
    )


def _exchange_response(exchange: dict[str, Any] | None) -> str:
    if not exchange:
        return pretty_json(None)
    if exchange.get("status") is None:
        return format_html('<pre class="hub-payload">no response: {}</pre>', exchange.get("error", ""))
    headers = "\n".join(f"{k}: {v}" for k, v in exchange.get("response_headers", {}).items())
    return format_html(
        '<pre class="hub-payload">HTTP {} ({} ms)\n{}</pre>{}',
        exchange["status"],
        exchange.get("elapsed_ms", 0),
        headers,
        _pretty_body(exchange.get("response_body", "")),
    )


def secret_mask(value: str) -> str:
    """A secret as lists show it: its last four characters at most, and only for long secrets."""
    return f"••••{value[-4:]}" if len(value) >= 16 else "••••"


class DestinationForm(forms.ModelForm[Destination]):
    kind = forms.ChoiceField(
        label="kind", choices=registry.kind_choices, help_text=_help(Destination, "kind")
    )
    call_types = forms.MultipleChoiceField(
        label="receives",
        choices=event_type_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_help(Destination, "call_types"),
    )
    event_names_text = forms.CharField(
        label="only these event names",
        required=False,
        widget=forms.Textarea({"rows": 2, "cols": 40}),
        help_text="One per line, e.g. Order Completed. Empty: every event name.",
    )
    new_secrets = StorableJSONField(
        label="set secrets",
        required=False,
        widget=forms.Textarea({"rows": 3, "cols": 60, "autocomplete": "off", "spellcheck": "false"}),
        help_text='Write-only: {"signing_secret": "whsec_..."} sets that secret and keeps the others; '
        '{"name": null} removes one. Stored values are never shown here.',
    )

    class Meta:
        model = Destination
        fields = [
            "name",
            "source",
            "kind",
            "enabled",
            "settings",
            "call_types",
            "mapping_set",
            "rate_limit_per_second",
            "timeout_seconds",
            "max_age_seconds",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["event_names_text"] = "\n".join(self.instance.event_names or [])
        self.initial["new_secrets"] = None  # write-only: never render what is stored

    def clean_new_secrets(self) -> dict[str, str | None]:
        value = self.cleaned_data.get("new_secrets") or {}
        if not isinstance(value, dict) or not all(isinstance(v, str | None) for v in value.values()):
            raise forms.ValidationError('A JSON object of names to text values, e.g. {"api_key": "..."}.')
        return value

    # Where a problem about a destination's settings or secrets is shown (see integrations.base.Problem).
    PROBLEM_FIELDS = {"settings": "settings", "secrets": "new_secrets"}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind, settings = data.get("kind"), data.get("settings")
        if kind and settings is not None:
            problems = self.instance.configuration_problems(
                kind=kind, settings=settings, secrets=data.get("new_secrets") or {}
            )
            for problem in problems:
                self.add_error(self.PROBLEM_FIELDS.get(problem_field(problem) or ""), problem)
        return data

    def save(self, commit: bool = True) -> Destination:
        destination = super().save(commit=False)
        text = self.cleaned_data.get("event_names_text") or ""
        destination.event_names = [line.strip() for line in text.splitlines() if line.strip()]
        if self.cleaned_data.get("new_secrets"):
            destination.secrets_update(self.cleaned_data["new_secrets"])
        if commit:
            destination.save()
        return destination


SEND_TEST_TEMPLATE = """{% extends "admin/base_site.html" %}{% load static %}
{% block extrastyle %}{{ block.super }}
<link rel="stylesheet" href="{% static "integrations/admin.css" %}">{% endblock %}
{% block content %}<div id="content-main">
{% for result in results %}
  <h2>{{ result.destination }} ({{ result.destination.kind }})</h2>
  {% if result.error %}<p class="errornote" role="alert">{{ result.error }}</p>
  {% else %}<p>Delivered: the endpoint answered {{ result.status }}.</p>{% endif %}
  <h3>Request</h3>{{ result.request }}
  <h3>Response</h3>{{ result.response }}
{% endfor %}
<p><a href="{{ back }}" class="button">Back to destinations</a></p>
</div>{% endblock %}"""


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin[Destination]):
    form = DestinationForm
    formfield_overrides = JSON_FORMFIELDS
    list_display = [
        "name",
        "source",
        "kind",
        "enabled",
        "receives",
        "secrets_masked",
        "rate_limit_per_second",
        "waiting",
    ]
    list_filter = ["enabled", "kind", "source"]
    search_fields = ["name"]
    list_select_related = ["mapping_set", "source"]
    readonly_fields = ["secrets_masked", "next_slot_at", "created_at", "updated_at"]
    actions = ["send_test", "replay_dead"]
    fieldsets = [
        (None, {"fields": ["name", "source", "kind", "enabled", "settings", "mapping_set"]}),
        ("Secrets", {"fields": ["secrets_masked", "new_secrets"]}),
        ("What it receives", {"fields": ["call_types", "event_names_text"]}),
        (
            "Delivery",
            {"fields": ["rate_limit_per_second", "timeout_seconds", "max_age_seconds", "next_slot_at"]},
        ),
        (None, {"fields": ["created_at", "updated_at"]}),
    ]

    class Media:
        css = {"all": ["integrations/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Destination]:
        waiting = Count("deliveries", filter=Q(deliveries__status__in=["pending", "in_flight"]))
        dead = Count("deliveries", filter=Q(deliveries__status="dead"))
        return super().get_queryset(request).annotate(waiting_count=waiting, dead_count=dead)

    @admin.display(description="receives")
    def receives(self, obj: Destination) -> str:
        names = ", ".join(obj.call_types or []) or "nothing"
        return f"{names} (only {', '.join(obj.event_names)})" if obj.event_names else names

    @admin.display(description="secrets")
    def secrets_masked(self, obj: Destination) -> str:
        values = obj.secret_values()
        return (
            ", ".join(f"{name} {secret_mask(value)}" for name, value in sorted(values.items())) or "none set"
        )

    @admin.display(description="waiting / dead")
    def waiting(self, obj: Destination) -> str:
        return f"{getattr(obj, 'waiting_count', 0)} / {getattr(obj, 'dead_count', 0)}"

    @admin.action(description="Send a test event (shows the HTTP exchange)", permissions=["change"])
    def send_test(self, request: HttpRequest, queryset: QuerySet[Destination]) -> HttpResponse:
        results = []
        for destination in queryset[:5]:
            exchange, error = destination_send_test(destination=destination)
            record = exchange.as_dict() if exchange else None
            results.append(
                {
                    "destination": destination,
                    "error": error,
                    "status": exchange.status if exchange else None,
                    "request": _exchange_request(record),
                    "response": _exchange_response(record),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Test deliveries",
            "opts": self.opts,
            "results": results,
            "back": request.get_full_path(),
        }
        html = engines["django"].from_string(SEND_TEST_TEMPLATE).render(context, request)
        return HttpResponse(html)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_delivery")

    @admin.action(
        description="Replay all dead deliveries of the selected destinations", permissions=["replay"]
    )
    def replay_dead(self, request: HttpRequest, queryset: QuerySet[Destination]) -> None:
        total = sum(deliveries_replay_dead(destination=destination) for destination in queryset)
        messages.success(request, f"Replaying {total} dead deliver{'y' if total == 1 else 'ies'}.")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created",
        "destination",
        "event_type",
        "status_label",
        "attempts",
        "last_http_status",
        "next_attempt",
        "error_short",
    ]
    list_filter = ["status", "destination", "event_type"]
    search_fields = ["=idempotency_key"]
    list_select_related = ["destination"]
    ordering = ["-id"]
    paginator = EventLogPaginator
    show_full_result_count = False
    actions = ["replay", "replay_dead_of_destination"]
    fields = (
        "destination",
        "event_type",
        "idempotency_key",
        "status",
        "attempts",
        "next_attempt_at",
        "retry_until",
        "claimed_at",
        "created_at",
        "delivered_at",
        "last_http_status",
        "last_error",
        "last_request",
        "last_response",
        "pretty_payload",
    )
    readonly_fields = fields

    class Media:
        css = {"all": ["integrations/admin.css"]}

    @admin.display(description="created at", ordering="created_at")
    def created(self, obj: Delivery) -> str:
        return to_the_second(obj.created_at)

    @admin.display(description="status", ordering="status")
    def status_label(self, obj: Delivery) -> str:
        return status_badge(obj.status, obj.get_status_display())

    @admin.display(description="next attempt at", ordering="next_attempt_at")
    def next_attempt(self, obj: Delivery) -> str:
        if obj.status not in (Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT):
            return ""
        return to_the_second(obj.next_attempt_at)

    @admin.display(description="last error")
    def error_short(self, obj: Delivery) -> str:
        return excerpt(obj.last_error, 100)

    @admin.display(description="payload")
    def pretty_payload(self, obj: Delivery) -> str:
        return pretty_json(obj.payload)

    @admin.display(description="last request")
    def last_request(self, obj: Delivery) -> str:
        return _exchange_request(obj.last_exchange)

    @admin.display(description="last response")
    def last_response(self, obj: Delivery) -> str:
        return _exchange_response(obj.last_exchange)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        # Deliveries are a read-only log: a replay is what "change" means for one.
        return request.user.has_perm("integrations.change_delivery")

    @admin.action(description="Replay selected deliveries (same idempotency key)", permissions=["replay"])
    def replay(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        done = deliveries_replay(ids=ids)
        messages.success(
            request, f"Replaying {done} of {len(ids)}; pending and in-flight ones are left alone."
        )

    @admin.action(
        description="Replay all dead deliveries of these deliveries' destinations", permissions=["replay"]
    )
    def replay_dead_of_destination(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        destinations = Destination.objects.filter(pk__in=queryset.values("destination_id"))
        total = sum(deliveries_replay_dead(destination=destination) for destination in destinations)
        messages.success(request, f"Replaying {total} dead deliver{'y' if total == 1 else 'ies'}.")


# The Segment sync-back (surveys/services/sync_back.py) adds its action to the destinations.
@admin.action(
    description="Sync NPS answers back to Segment now (the daily sync, started at once)",
    permissions=["change"],
)
def sync_back_now(
    modeladmin: DestinationAdmin, request: HttpRequest, queryset: QuerySet[Destination]
) -> None:
    from surveys.services.sync_back import sync_back_start

    try:
        started = sync_back_start(destinations=queryset)
    except Exception:  # the broker is down: say so rather than a 500
        messages.error(request, "Could not start the sync (is the broker running?); try manage.py sync_back.")
        return
    if not started:
        messages.warning(request, "Select enabled destinations of kind Segment.")
        return
    messages.success(request, f"Sync-back started for {started} destination(s); see their deliveries.")


DestinationAdmin.actions = [*DestinationAdmin.actions, sync_back_now]


# --- Consoles of other apps, with their actions offered only to staff allowed to do what they do --------

admin.site.unregister(PeriodicTask)


@admin.register(PeriodicTask)
class PeriodicTaskAdmin(beat_admin.PeriodicTaskAdmin):
    # hub/schedule.py declares the tasks; enabling, disabling and running them (a sync-back, a
    # dispatch) change what the hub does.
    actions = [
        action_needing(getattr(beat_admin.PeriodicTaskAdmin, name), "change")
        for name in beat_admin.PeriodicTaskAdmin.actions
    ]


admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class AccessAttemptAdmin(axes_admin.AccessAttemptAdmin):
    # The admin's failed logins (django-axes): cleaning up deletes them.
    actions = [action_needing(axes_admin.AccessAttemptAdmin.cleanup_expired_attempts, "delete")]
