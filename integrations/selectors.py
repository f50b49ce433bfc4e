"""Read-only queries about destinations and deliveries, for the admin and the API."""

from django.db.models import Count, Q, QuerySet

from integrations.models import Delivery, Destination


def destinations_with_queue(queryset: QuerySet[Destination]) -> QuerySet[Destination]:
    """Each destination with `waiting_count` (deliveries pending or in flight) and `dead_count`."""
    waiting = Count(
        "deliveries", filter=Q(deliveries__status__in=[Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT])
    )
    dead = Count("deliveries", filter=Q(deliveries__status=Delivery.Status.DEAD))
    return queryset.annotate(waiting_count=waiting, dead_count=dead)
