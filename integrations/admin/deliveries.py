"""Deliveries: the outbound log, each call's last request and response, and replay."""

import json
from typing import Any, Literal

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string

from hub.admin import LogAdmin, excerpt, pretty_json, to_the_second
from integrations.deliveries import deliveries_replay, deliveries_replay_dead
from integrations.models import Delivery, Destination


def _pretty_body(body: str) -> str:
    """A body as sent or received: indented when it is JSON, as it came otherwise."""
    try:
        return pretty_json(json.loads(body)) if body else pretty_json("")
    except ValueError:
        return pretty_json(body)


def exchange_shown(exchange: dict[str, Any] | None, side: Literal["request", "response"]) -> str:
    """One side of a recorded HTTP exchange (HttpExchange.as_dict(), secrets already masked)."""
    if not exchange:
        return pretty_json(None)
    headers = exchange.get(f"{side}_headers", {})
    context = {
        "side": side,
        "exchange": exchange,
        "headers": "\n".join(f"{name}: {value}" for name, value in headers.items()),
        "body": _pretty_body(exchange.get(f"{side}_body", "")),
    }
    return render_to_string("admin/integrations/exchange.html", context)


def replayed(request: HttpRequest, total: int) -> None:
    messages.success(request, f"Replaying {total} dead deliver{'y' if total == 1 else 'ies'}.")


@admin.register(Delivery)
class DeliveryAdmin(LogAdmin):
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

    @admin.display(description="created at", ordering="created_at")
    def created(self, obj: Delivery) -> str:
        return to_the_second(obj.created_at)

    @admin.display(description="next attempt at", ordering="next_attempt_at")
    def next_attempt(self, obj: Delivery) -> str:
        if obj.status not in (Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT):
            return ""
        return to_the_second(obj.next_attempt_at)

    @admin.display(description="last error")
    def error_short(self, obj: Delivery) -> str:
        return excerpt(obj.last_error, 100)

    @admin.display(description="last request")
    def last_request(self, obj: Delivery) -> str:
        return exchange_shown(obj.last_exchange, "request")

    @admin.display(description="last response")
    def last_response(self, obj: Delivery) -> str:
        return exchange_shown(obj.last_exchange, "response")

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
        replayed(
            request, sum(deliveries_replay_dead(destination=destination) for destination in destinations)
        )
