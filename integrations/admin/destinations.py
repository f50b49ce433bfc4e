"""Destinations: where hub events and forwarded calls go, their write-only secrets, and "send a test"."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from hub.admin import JSON_FORMFIELDS, ExtraBoxesForm, StorableJSONField, help_text_of, secret_mask
from integrations import registry
from integrations.admin.deliveries import exchange_shown, replayed
from integrations.base import event_type_choices, problem_field
from integrations.deliveries import deliveries_replay_dead, destination_send_test
from integrations.models import Destination
from integrations.selectors import destinations_with_queue


class DestinationForm(ExtraBoxesForm[Destination]):
    kind = forms.ChoiceField(
        label="kind", choices=registry.kind_choices, help_text=help_text_of(Destination, "kind")
    )
    call_types = forms.MultipleChoiceField(
        label="receives",
        choices=event_type_choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=help_text_of(Destination, "call_types"),
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

    def extra_apply(self, instance: Destination) -> None:
        text = self.cleaned_data.get("event_names_text") or ""
        instance.event_names = [line.strip() for line in text.splitlines() if line.strip()]
        if self.cleaned_data.get("new_secrets"):
            instance.secrets_update(self.cleaned_data["new_secrets"])


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
        return destinations_with_queue(super().get_queryset(request))

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
    def send_test(self, request: HttpRequest, queryset: QuerySet[Destination]) -> TemplateResponse:
        results = []
        for destination in queryset[:5]:  # each test waits for the remote: a few per click
            exchange, error = destination_send_test(destination=destination)
            record = exchange.as_dict() if exchange else None
            results.append(
                {
                    "destination": destination,
                    "error": error,
                    "status": exchange.status if exchange else None,
                    "request": exchange_shown(record, "request"),
                    "response": exchange_shown(record, "response"),
                }
            )
        context = {
            **self.admin_site.each_context(request),
            "title": "Test deliveries",
            "opts": self.opts,
            "results": results,
            "back": request.get_full_path(),
        }
        return TemplateResponse(request, "admin/integrations/destination/send_test.html", context)

    def has_replay_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("integrations.change_delivery")

    @admin.action(
        description="Replay all dead deliveries of the selected destinations", permissions=["replay"]
    )
    def replay_dead(self, request: HttpRequest, queryset: QuerySet[Destination]) -> None:
        replayed(request, sum(deliveries_replay_dead(destination=destination) for destination in queryset))


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
