"""Forwarding processed Segment calls to destinations (Hello Customer, CustomerSuccessBox, SurveyLab,
a webhook ...), as Segment passes a call on to the destinations enabled for it.

`segment_events_forward` is the last handler of the pipeline (hub/pipeline.py): for a batch of
claimed events it enqueues, in the processing transaction, one Delivery per event and enabled
destination of the event's source subscribed to the event's call type (and, for a track call, its
event name):

    deliveries_enqueue_many(events=[Outbound(event_type="identify", data=event.payload,
                                             idempotency_key="segment:<source id>:<messageId>",
                                             source_id=<source id>), ...])

A source's calls go only to that source's destinations (tenancy), as Segment passes a source's calls
only to the destinations connected to it.

The event type is the call type itself ("identify", "track", ...), the names destinations subscribe
to (integrations.base.SEGMENT_CALL_TYPES). The key depends only on the event, so reprocessing an
event creates nothing new and every destination sees the same key. Each connector builds its payload
with the destination's attribute mapping (integrations/mappings.py `mapping_choose` picks it).

Erasure holds here too, as the customer-records handler found it (`InboundEvent.erasure`, no query
of its own): calls naming someone erased on request are not forwarded, nor calls after a `delete` of
the same person in the batch; calls recorded before that delete are queued erased, as they would be
had the delete come in a later batch. The `delete` call itself is forwarded to destinations
subscribed to it, so that a vendor can erase the person as well.
"""

from collections.abc import Sequence

from integrations.base import SEGMENT_CALL_TYPES
from integrations.deliveries import Outbound, deliveries_enqueue_many, deliveries_erase
from integrations.models import Destination, Erasure, InboundEvent, Source
from integrations.segment.calls import forwarding_key

_NOT_FORWARDED = frozenset({InboundEvent.Status.REJECTED, InboundEvent.Status.FAILED})


def segment_events_forward(*, events: Sequence[InboundEvent]) -> None:
    """Processing handler: enqueue the batch's calls for the destinations subscribed to them."""
    candidates = [
        event
        for event in events
        if event.status not in _NOT_FORWARDED
        and event.type in SEGMENT_CALL_TYPES
        and event.erasure != Erasure.SUPPRESSED
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
    keys = {
        event.pk: forwarding_key(source_id=event.source_id, message_id=event.message_id)
        for event in candidates
    }
    deliveries_enqueue_many(
        events=[
            Outbound(
                event_type=event.type,
                data=event.payload,
                idempotency_key=keys[event.pk],
                source_id=event.source_id,
            )
            for event in candidates
        ],
        destinations=destinations,
    )
    erased = [keys[event.pk] for event in candidates if event.erasure == Erasure.ERASED]
    if erased:
        deliveries_erase(idempotency_keys=erased)
