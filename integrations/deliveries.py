"""The outbound delivery engine's front: every call to a destination is a `Delivery` row, put in here
and attempted by the delivery loop (integrations/delivery_loop.py: claims, retries, rate limits).

    deliveries_enqueue(event_type="response.created", data={...}, idempotency_key="response-42-created",
                       source_id=7)
        -> one Delivery per enabled destination of source 7 subscribed to the event, in the caller's
           transaction; a task delivers them right after commit (the beat's `deliver_due` is the
           safety net). A destination never receives another source's people (tenancy).
    delivery_enqueue(destination=segment, event_type="sync_back.batch", data={...}, idempotency_key=...)
        -> one Delivery for the one destination the caller chose (the NPS sync-back's batches).
    delivery_send_now(delivery_id=...)   attempt it at once in this process and see the outcome.
    deliveries_replay(ids=[...])         delivered, failed or dead rows due again, same key.
    deliveries_erase(...)                an erased person's payloads go, and are never sent.
"""

import logging
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from integrations.base import TEST_EVENT_TYPE, ConnectorError
from integrations.delivery_loop import (
    FORWARDED_DELETE,
    SLOT_MAX_WAIT_SECONDS,
    deliveries_deliver_due,
    destination_slot_reserve,
    failure_reason,
)
from integrations.http import HttpClient, HttpExchange
from integrations.models import ERASED_PAYLOAD, ERASED_REASON, Delivery, Destination
from integrations.registry import connector_get

logger = logging.getLogger(__name__)


def _event_name(data: Mapping[str, Any]) -> str | None:
    name = data.get("event")
    return name if isinstance(name, str) else None


def _delivery_new(
    *, destination: Destination, event_type: str, data: Mapping[str, Any], idempotency_key: str, now: datetime
) -> Delivery | None:
    """An unsaved Delivery with the payload its connector built; None when the connector skips the event.
    A connector that cannot build the payload yields a failed delivery, with the reason."""
    delivery = Delivery(
        destination=destination,
        event_type=event_type,
        idempotency_key=idempotency_key,
        created_at=now,
        next_attempt_at=now,
        retry_until=now + timedelta(seconds=destination.max_age_seconds),
        payload=None,
    )
    try:
        delivery.payload = connector_get(destination.kind).build(
            destination=destination, event_type=event_type, data=data
        )
    except Exception as exc:
        # A ConnectorError is about the data (its message may quote a trait value: kept on the row for
        # staff, never logged); anything else is a bug, logged with its traceback.
        logger.warning(
            "building %s for destination %s failed: %s",
            event_type,
            destination.pk,
            type(exc).__name__,
            exc_info=not isinstance(exc, ConnectorError),
        )
        delivery.status = Delivery.Status.FAILED
        delivery.last_error = f"could not build the payload: {failure_reason(exc)}"
        delivery.payload = {"type": event_type, "data": dict(data)}  # what it was about, for staff
        return delivery
    return None if delivery.payload is None else delivery


def _delivery_save(delivery: Delivery) -> Delivery:
    try:
        with transaction.atomic():
            delivery.save()
    except IntegrityError:  # the same key enqueued at the same moment by another process
        delivery = Delivery.objects.get(
            destination=delivery.destination, idempotency_key=delivery.idempotency_key
        )
    return delivery


def _deliver_after_commit(deliveries: Iterable[Delivery]) -> None:
    ids = [d.pk for d in deliveries if d.status == Delivery.Status.PENDING]
    if ids:
        transaction.on_commit(lambda: _deliver_soon(ids))


def deliveries_enqueue(
    *, event_type: str, data: Mapping[str, Any], idempotency_key: str, source_id: int
) -> list[Delivery]:
    """Create a Delivery for each enabled destination of the source `source_id` (whose person the
    event is about) subscribed to `event_type`; deliver after commit.

    Call it inside the transaction that stores what the event is about (an answer, an invitation):
    the deliveries then exist if and only if that commits, and nothing is sent before. Enqueueing
    the same idempotency key again creates nothing new (the existing rows are returned).
    A connector that cannot build the payload records the delivery as failed, with the reason.
    """
    event_name = _event_name(data)
    destinations = [
        d
        for d in Destination.objects.filter(enabled=True, source_id=source_id).select_related("mapping_set")
        if d.receives(event_type, event_name, source_id=source_id)
    ]
    with transaction.atomic():
        enqueued = [
            delivery_enqueue(
                destination=destination,
                event_type=event_type,
                data=data,
                idempotency_key=idempotency_key,
                deliver_after_commit=False,
            )
            for destination in destinations
        ]
        deliveries = [delivery for delivery in enqueued if delivery is not None]
        _deliver_after_commit(deliveries)
    return deliveries


def delivery_enqueue(
    *,
    destination: Destination,
    event_type: str,
    data: Mapping[str, Any],
    idempotency_key: str,
    deliver_after_commit: bool = True,
) -> Delivery | None:
    """Create a Delivery of one event for the one destination the caller chose, whatever it
    subscribes to: the NPS sync-back's batch for its Segment destination. The caller answers for
    tenancy: `data` is about the people of the destination's own source.

    The destination's connector builds the payload (None: it skips the event and nothing is stored; a
    connector that cannot build it records the delivery as failed, with the reason). The same key
    again returns the existing row as it is. A task delivers it after commit; a caller that sends it
    itself at once (`delivery_send_now`) passes `deliver_after_commit=False`, so that no task races
    it for the row.
    """
    delivery = Delivery.objects.filter(destination=destination, idempotency_key=idempotency_key).first()
    if delivery is None:
        new = _delivery_new(
            destination=destination,
            event_type=event_type,
            data=data,
            idempotency_key=idempotency_key,
            now=timezone.now(),
        )
        if new is None:
            return None
        delivery = _delivery_save(new)
    if deliver_after_commit:
        _deliver_after_commit([delivery])
    return delivery


@dataclass(frozen=True)
class Outbound:
    """One event for `deliveries_enqueue_many`: the same arguments as `deliveries_enqueue`."""

    event_type: str
    data: Mapping[str, Any]
    idempotency_key: str
    source_id: int


def deliveries_enqueue_many(
    *, events: Sequence[Outbound], destinations: Sequence[Destination] | None = None
) -> list[Delivery]:
    """`deliveries_enqueue` for a batch of events, in a constant number of queries: the destinations
    are loaded once (or given: enabled ones, with their mapping_set), existing keys looked up in one
    query and the new rows inserted in one statement (row by row only if another process inserted
    one of the same keys meanwhile). Each event goes only to its own source's destinations."""
    if not events:
        return []
    if destinations is None:
        sources = {event.source_id for event in events}
        destinations = list(
            Destination.objects.filter(enabled=True, source_id__in=sources).select_related("mapping_set")
        )
    by_source: dict[int, list[Destination]] = {}
    for destination in destinations:
        by_source.setdefault(destination.source_id, []).append(destination)
    pairs = [
        (event, destination)
        for event in events
        for destination in by_source.get(event.source_id, ())
        if destination.receives(event.event_type, _event_name(event.data), source_id=event.source_id)
    ]
    if not pairs:
        return []
    existing = {
        (d.destination_id, d.idempotency_key): d
        for d in Delivery.objects.filter(
            destination_id__in={destination.pk for _, destination in pairs},
            idempotency_key__in={event.idempotency_key for event, _ in pairs},
        )
    }
    deliveries: list[Delivery] = []
    new: list[Delivery] = []
    now = timezone.now()
    for event, destination in pairs:
        found = existing.get((destination.pk, event.idempotency_key))
        if found is not None:
            deliveries.append(found)
            continue
        delivery = _delivery_new(
            destination=destination,
            event_type=event.event_type,
            data=event.data,
            idempotency_key=event.idempotency_key,
            now=now,
        )
        if delivery is not None:
            new.append(delivery)
    with transaction.atomic():
        try:
            with transaction.atomic():
                Delivery.objects.bulk_create(new)
        except IntegrityError:  # a key enqueued meanwhile by another process
            new = [_delivery_save(delivery) for delivery in new]
        deliveries += new
        _deliver_after_commit(deliveries)
    return deliveries


def _deliver_soon(ids: list[int]) -> None:
    from integrations.tasks import deliver_deliveries

    try:
        deliver_deliveries.delay(ids)
    except Exception:  # the broker is down: the beat's deliver_due sends them later
        logger.warning("could not enqueue %d deliveries; deliver_due will send them", len(ids), exc_info=True)


# --- replay, send now, test ------------------------------------------------------------------------

ENDED = (Delivery.Status.DELIVERED, Delivery.Status.FAILED, Delivery.Status.DEAD)


def _deliveries_reopen(*, ids: Iterable[int], statuses: Sequence[str]) -> list[int]:
    """Those of `ids` in one of `statuses` become pending, due now, with the same idempotency key and
    a fresh retry window; returns their ids."""
    now = timezone.now()
    reopened: list[int] = []
    with transaction.atomic():
        rows = (
            Delivery.objects.select_for_update()
            .filter(pk__in=list(ids), status__in=list(statuses))
            .select_related("destination")
        )
        for delivery in rows:
            if delivery.payload == ERASED_PAYLOAD:
                continue  # what it was about was erased on request: nothing left to send
            delivery.status = Delivery.Status.PENDING
            delivery.next_attempt_at = now
            delivery.retry_until = now + timedelta(seconds=delivery.destination.max_age_seconds)
            delivery.save(update_fields=["status", "next_attempt_at", "retry_until", "updated_at"])
            reopened.append(delivery.pk)
    return reopened


def deliveries_replay(*, ids: Iterable[int]) -> int:
    """Admin/API "replay": delivered, failed or dead deliveries become due now, with the same
    idempotency key and a fresh retry window; a task delivers them after commit. Deliveries pending
    or in flight are left alone."""
    replayed = _deliveries_reopen(ids=ids, statuses=ENDED)
    if replayed:
        transaction.on_commit(lambda: _deliver_soon(replayed))
    return len(replayed)


def delivery_send_now(*, delivery_id: int, again: bool = False) -> tuple[Delivery, bool]:
    """Attempt one delivery at once in this process, whatever its backoff, for a worker that needs its
    outcome (the sync-back moves its cursor on it). Returns the delivery as the engine recorded it, and
    whether this call attempted it.

    Pending: attempted now. Failed or dead: replayed (same key, fresh retry window), then attempted.
    Delivered: left as it is, unless `again`. Held by another worker (in flight): left to it, whose
    outcome the row records when it ends; nobody waits for it here.
    """
    _deliveries_reopen(ids=[delivery_id], statuses=ENDED if again else ENDED[1:])
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING).update(
        next_attempt_at=timezone.now()
    )
    attempted = deliveries_deliver_due(ids=[delivery_id], limit=1) > 0
    return Delivery.objects.select_related("destination").get(pk=delivery_id), attempted


def deliveries_replay_dead(*, destination: Destination) -> int:
    """Replay every dead delivery of one destination (after its outage is over)."""
    ids = destination.deliveries.filter(status=Delivery.Status.DEAD).values_list("pk", flat=True)
    return deliveries_replay(ids=list(ids))


def destination_send_test(*, destination: Destination) -> tuple[HttpExchange | None, str]:
    """Send a test event to a destination now (no Delivery row); returns the exchange and the error,
    if any, for the admin to show. Respects the destination's rate limit."""
    connector = connector_get(destination.kind)
    problems = connector.validate(settings=destination.settings, secrets=destination.secret_values())
    if problems:
        return None, " ".join(problems)
    wait = destination_slot_reserve(destination=destination)
    if wait > SLOT_MAX_WAIT_SECONDS:
        return None, f"The destination's rate limit is busy for {wait:.0f} s; try again later."
    time.sleep(wait)
    data = {"message": "A test from Feedback Hub: this endpoint is set up correctly.", "test": True}
    client = HttpClient(timeout=destination.timeout_seconds, secrets=destination.secret_values().values())
    try:
        payload = connector.build(destination=destination, event_type=TEST_EVENT_TYPE, data=data)
        exchange = connector.deliver(
            destination=destination,
            payload=payload if payload is not None else data,
            idempotency_key=f"test_{uuid.uuid4().hex}",
            client=client,
        )
    except ConnectorError as exc:
        return exc.exchange, exc.message
    except Exception as exc:
        logger.exception("test of destination %s raised", destination.pk)
        return None, failure_reason(exc)
    finally:
        client.close()
    return exchange, ""


def deliveries_erase(*, idempotency_keys: Iterable[str] = (), key_prefixes: Iterable[str] = ()) -> int:
    """GDPR erasure reaches the outbound queue: the deliveries of an erased person's calls and events
    (exact keys, or keys starting with a prefix) lose their payload, exchange and error (the rows stay,
    counted), and what was not sent yet is never sent (nor replayed). A forwarded `delete` keeps its
    payload until it is delivered (or given up), so the vendor can erase the person too."""
    which = Q(idempotency_key__in=list(idempotency_keys))
    for prefix in key_prefixes:
        which |= Q(idempotency_key__startswith=prefix)
    deliveries = Delivery.objects.filter(which).exclude(event_type=FORWARDED_DELETE)
    deliveries.exclude(status=Delivery.Status.DELIVERED).update(status=Delivery.Status.FAILED)
    return deliveries.update(
        payload=ERASED_PAYLOAD, last_exchange=None, last_response_excerpt="", last_error=ERASED_REASON
    )
