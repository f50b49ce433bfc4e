"""Forwarding processed Segment calls to destinations (Hello Customer, CustomerSuccessBox, SurveyLab,
a webhook ...), as Segment passes a call on to the destinations enabled for it.

`segment_events_forward` is a processing handler (registered in apps.py): for a batch of claimed
events it enqueues, in the processing transaction, one Delivery per event and enabled destination
of the event's source subscribed to the event's call type (and, for a track call, its event name):

    deliveries_enqueue_many(events=[Outbound(event_type="identify", data=event.payload,
                                             idempotency_key="segment:<source id>:<messageId>",
                                             source_id=<source id>), ...])

A source's calls go only to that source's destinations (tenancy), as Segment passes a source's calls
only to the destinations connected to it.

The event type is the call type itself ("identify", "track", ...), the names destinations subscribe
to (integrations.base.SEGMENT_CALL_TYPES). The key depends only on the event, so reprocessing an
event creates nothing new and every destination sees the same key. Each connector builds its payload
with the destination's attribute mapping (integrations/mappings.py `mapping_for` picks it).

Erasure holds here too: calls about a person erased on request (a suppression) are not forwarded,
nor calls that follow a `delete` of the same userId in the same batch. The `delete` call itself is
forwarded to destinations subscribed to it, so that a vendor can erase the person as well. (This
handler runs before the customer-records one, integrations coming first in INSTALLED_APPS, so it
reads the suppressions itself: one query per batch, only when a destination receives Segment calls.)
"""

from collections.abc import Mapping, Sequence
from typing import Any

from integrations.base import SEGMENT_CALL_TYPES
from integrations.deliveries import Outbound, deliveries_enqueue_many
from integrations.models import Destination, InboundEvent, Source
from integrations.segment.calls import SegmentCall

_NOT_FORWARDED = frozenset({InboundEvent.Status.REJECTED, InboundEvent.Status.FAILED})


def forwarding_key(event: InboundEvent) -> str:
    """The idempotency key of an event's deliveries: the same for every destination and attempt."""
    return forwarding_key_for(event.source_id, event.message_id)


def forwarding_key_for(source_id: int, message_id: str) -> str:
    return f"segment:{source_id}:{message_id}"


def _email(payload: Mapping[str, Any]) -> str:
    context = payload.get("context")
    for traits in (payload.get("traits"), context.get("traits") if isinstance(context, dict) else None):
        if isinstance(traits, dict) and isinstance(traits.get("email"), str):
            return str(traits["email"])
    return ""


def _erased(events: Sequence[InboundEvent]) -> set[int]:
    """Ids of events about people erased on request: a suppression of their userId, anonymousId or
    email (one query), or a delete of their userId earlier in this batch."""
    from customers.selectors import SuppressionKey, suppressions_for

    def keys(event: InboundEvent) -> list[SuppressionKey]:
        return [
            (event.source_id, "user_id", event.user_id),
            (event.source_id, "user_id", event.anonymous_id),
            (event.source_id, "email", _email(event.payload)),
        ]

    found = suppressions_for((key for event in events for key in keys(event)), erased_only=True)
    erased: set[int] = set()
    if found:
        erased = {
            event.pk
            for event in events
            if any(found.stored(source, kind, value) for source, kind, value in keys(event))
        }
    deleted: set[tuple[int, str]] = set()
    for event in events:
        if event.type == SegmentCall.DELETE:
            deleted.add((event.source_id, event.user_id))
        elif (event.source_id, event.user_id) in deleted and event.user_id:
            erased.add(event.pk)
    return erased


def segment_events_forward(events: Sequence[InboundEvent]) -> None:
    """Processing handler: enqueue the batch's calls for the destinations subscribed to them."""
    candidates = [
        event for event in events if event.status not in _NOT_FORWARDED and event.type in SEGMENT_CALL_TYPES
    ]
    if not candidates:
        return
    destinations = [
        d
        for d in Destination.objects.filter(
            enabled=True, source_id__in={event.source_id for event in candidates}
        ).select_related("mapping_set")
        if set(d.call_types or ()) & set(SEGMENT_CALL_TYPES)
    ]
    if not destinations:
        return  # one query per batch when nothing receives Segment calls
    # A collector's webhook calls are logged as track events of its own source; they are not
    # Segment calls and are not passed on.
    webhook_sources = set(
        Source.objects.filter(pk__in={e.source_id for e in candidates}, collectors__isnull=False).values_list(
            "pk", flat=True
        )
    )
    candidates = [event for event in candidates if event.source_id not in webhook_sources]
    erased = _erased(candidates)
    deliveries_enqueue_many(
        events=[
            Outbound(
                event_type=event.type,
                data=event.payload,
                idempotency_key=forwarding_key(event),
                source_id=event.source_id,
            )
            for event in candidates
            if event.pk not in erased or event.type == SegmentCall.DELETE
        ],
        destinations=destinations,
    )
