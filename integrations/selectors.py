"""Read-only queries about sources, destinations and deliveries, for the admin and the API."""

from django.db.models import Count, Q, QuerySet

from integrations.models import Delivery, Destination, RefusedCalls, Source

REFUSED_SHOWN = 20  # rows per table on a source's page


def refused_calls_of(*, source: Source | None) -> list[RefusedCalls]:
    """The latest refused calls with this source's disabled keys (None: with unknown keys, hub-wide)."""
    return list(RefusedCalls.objects.filter(source=source).order_by("-last_seen_at")[:REFUSED_SHOWN])


def destinations_with_queue(queryset: QuerySet[Destination]) -> QuerySet[Destination]:
    """Each destination with `waiting_count` (deliveries pending or in flight) and `dead_count`."""
    waiting = Count(
        "deliveries", filter=Q(deliveries__status__in=[Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT])
    )
    dead = Count("deliveries", filter=Q(deliveries__status=Delivery.Status.DEAD))
    return queryset.annotate(waiting_count=waiting, dead_count=dead)
