"""Read-only queries about customer records, shared by the admin and the API."""

from django.db.models import Q

from customers.models import Person
from integrations.models import InboundEvent


def person_recent_events(person: Person, *, limit: int) -> list[InboundEvent]:
    """The person's latest calls, by every id they have used."""
    ids = list(person.identities.values_list("value", flat=True))
    query = Q(anonymous_id__in=ids) if ids else Q(pk__in=[])
    if person.user_id:
        query |= Q(user_id=person.user_id)
    return list(InboundEvent.objects.filter(query, source_id=person.source_id).order_by("-id")[:limit])
