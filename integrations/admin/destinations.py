"""Destinations: where hub events and forwarded calls go. A new one starts with its kind; its form
comes from that kind's settings schema (integrations/admin/destination_form.py). Also "send a test"."""

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from hub.admin import secret_mask
from integrations import registry
from integrations.admin.deliveries import exchange_shown, replayed
from integrations.admin.destination_form import destination_form_for, form_fieldsets
from integrations.deliveries import deliveries_replay_dead, destination_send_test
from integrations.models import Destination
from integrations.selectors import destinations_with_queue


@admin.register(Destination)
class DestinationAdmin(admin.ModelAdmin[Destination]):
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
    readonly_fields = ["kind_shown", "secrets_masked", "next_slot_at", "created_at", "updated_at"]
    actions = ["send_test", "replay_dead"]

    class Media:
        css = {"all": ["integrations/admin.css"]}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Destination]:
        return destinations_with_queue(super().get_queryset(request))

    @staticmethod
    def kind_of(request: HttpRequest, obj: Destination | None) -> str:
        """A stored destination's kind; for a new one the kind chosen first (?kind=), or ""."""
        if obj is not None and obj.pk:
            return obj.kind
        kind = request.GET.get("kind", "")
        return kind if kind in registry.CONNECTORS else ""

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if not self.kind_of(request, None):
            if not self.has_add_permission(request):
                return super().add_view(request, form_url, extra_context)  # Django's 403
            context = {
                **self.admin_site.each_context(request),
                "title": "Add destination: choose its kind",
                "opts": self.opts,
                "kinds": registry.kind_choices(),
            }
            return TemplateResponse(request, "admin/integrations/destination/choose_kind.html", context)
        return super().add_view(request, form_url, extra_context)

    def get_form(
        self, request: HttpRequest, obj: Destination | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        stored = set(obj.secret_values()) if obj is not None else set()
        kwargs["form"] = destination_form_for(self.kind_of(request, obj), stored_secrets=stored)
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Destination | None = None) -> Any:
        stored = obj.settings if obj is not None and isinstance(obj.settings, dict) else {}
        return form_fieldsets(self.kind_of(request, obj), stored=stored)

    @admin.display(description="kind")
    def kind_shown(self, obj: Destination) -> str:
        return registry.connector_get(obj.kind).label if obj.kind in registry.CONNECTORS else obj.kind

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
