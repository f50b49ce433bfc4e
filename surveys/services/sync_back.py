"""The daily NPS sync-back to Segment: survey data going out. One `identify` per person whose latest
response changed since the last successful sync (surveys/services/sync_back_batches.py builds them),
sent as `/v1/batch` deliveries through the delivery engine to the destination's Segment connector.

    report = sync_back_run(destination=destination)               # the beat task, "sync now", manage.py
    report = sync_back_run(destination=destination, dry_run=True)  # what would be sent; sends nothing

How it stays exactly-once-per-change across failures:

- Each batch is one `Delivery`, enqueued to this one destination by the engine
  (`integrations.deliveries.delivery_enqueue`) with the idempotency key `sync-back:<sha256 of its
  messageIds>`, and sent at once by the engine (`delivery_send_now`); batches go one after the other.
- The destination's `SyncCursor` moves past a batch only when the engine reports it delivered.
  A batch that fails stays with the engine (retries, dead, replay) and is the cursor's
  `batch_delivery`: the next run first settles it from its recorded status (delivered meanwhile:
  the cursor moves; pending: sent at once; failed or dead: rebuilt from today's answers), then goes
  on. A run that finds the batch in another worker's hands stops ("busy") instead of waiting for it.
- Responses written in the last `SETTLE_SECONDS` wait for the next run: a transaction that commits
  late with an earlier updated_at must not fall behind the cursor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.db.models import QuerySet
from django.utils import timezone

from customers.models import Person
from customers.services.people import person_ids
from hub.db import json_mentions
from integrations.deliveries import delivery_enqueue, delivery_send_now
from integrations.http import REQUEST_BODY_LIMIT
from integrations.models import Delivery, Destination
from integrations.segment.connector import BATCH_EVENT_TYPE, SegmentConnector
from surveys.models import SyncCursor
from surveys.services.sync_back_batches import Batch, batches_build, responses_changed

logger = logging.getLogger(__name__)

KIND = SegmentConnector.kind
SETTLE_SECONDS = 60.0

Progress = Callable[[int, int], None]  # (responses done, responses in total)


@dataclass
class SyncReport:
    """What one run did (or, dry, would do)."""

    destination_id: int
    dry_run: bool = False
    # done: everything found was delivered; waiting: a batch is with the engine's retries; failed: a
    # batch was refused (fix and rerun); busy: another run or worker has the batch; disabled / misconfigured.
    status: str = "done"
    reason: str = ""
    responses: int = 0  # changed responses found after the cursor
    people: int = 0  # identify calls delivered (dry: that would be sent)
    skipped: int = 0  # responses that are not their person's latest or whose person has no id
    requests: int = 0  # batches delivered by this run (dry: batches built)
    bytes: int = 0  # their body size
    batches: list[Batch] = field(default_factory=list)

    @property
    def message_ids(self) -> list[str]:
        return [m for batch in self.batches for m in batch.message_ids]

    def summary(self) -> str:
        verb = "would send" if self.dry_run else "sent"
        text = (
            f"{self.status}: {verb} {self.people} identify calls in {self.requests} batches "
            f"({self.bytes} bytes); {self.responses} changed responses, {self.skipped} skipped"
        )
        return text + (f"; {self.reason}" if self.reason else "")

    def sent(self, *, events: int, size: int) -> None:
        self.people += events
        self.requests += 1
        self.bytes += size


def _cursor_move(cursor: SyncCursor, **fields: Any) -> bool:
    """Compare-and-set from the position this run read: a concurrent run that moved it wins."""
    moved = SyncCursor.objects.filter(
        pk=cursor.pk,
        last_response_updated_at=cursor.last_response_updated_at,
        last_response_id=cursor.last_response_id,
    ).update(updated_at=timezone.now(), **fields)
    if moved:
        for name, value in fields.items():
            setattr(cursor, name, value)
    return bool(moved)


def _cursor_advance(cursor: SyncCursor, until: tuple[datetime, int]) -> bool:
    return _cursor_move(
        cursor,
        last_response_updated_at=until[0],
        last_response_id=until[1],
        batch_delivery=None,
        batch_until_updated_at=None,
        batch_until_response_id=None,
    )


def sync_cursor_reset(*, destination: Destination) -> None:
    """Forget what was synced: the next run considers every person's latest response again."""
    SyncCursor.objects.update_or_create(
        destination=destination,
        defaults={
            "last_response_updated_at": None,
            "last_response_id": 0,
            "batch_delivery": None,
            "batch_until_updated_at": None,
            "batch_until_response_id": None,
        },
    )


def sync_back_run(
    *,
    destination: Destination,
    dry_run: bool = False,
    progress: Progress | None = None,
    full: bool = False,
    settle_seconds: float = SETTLE_SECONDS,
) -> SyncReport:
    """Send (dry: list) the identify calls for every person whose latest response changed since the
    last successful sync. `full`: from the beginning, resending what was delivered before (same
    messageIds). `progress(done, total)` is called after each batch, counting responses."""
    report = SyncReport(destination_id=destination.pk, dry_run=dry_run)
    problems = (
        [f"the destination is of kind '{destination.kind}', not '{KIND}'"]
        if destination.kind != KIND
        else SegmentConnector().validate(settings=destination.settings, secrets=destination.secret_values())
    )
    if problems:
        report.status, report.reason = "misconfigured", " ".join(problems)
        return report
    if not destination.enabled and not dry_run:
        report.status, report.reason = "disabled", "the destination is disabled"
        return report
    source = destination.source
    if full and not dry_run:
        sync_cursor_reset(destination=destination)
    cursor, _ = SyncCursor.objects.get_or_create(destination=destination)
    until = timezone.now() - timedelta(seconds=settle_seconds)
    if not dry_run:
        SyncCursor.objects.filter(pk=cursor.pk).update(last_run_at=timezone.now())
        if not _batch_settle(cursor, report):
            return report
    after = (None, 0) if (full and dry_run) else (cursor.last_response_updated_at, cursor.last_response_id)
    total = responses_changed(source=source, after=after, until=until).count()
    done = 0
    if progress:
        progress(done, total)
    for batch in batches_build(destination_id=destination.pk, source=source, after=after, until=until):
        report.responses += batch.responses
        report.skipped += batch.skipped
        if batch.events:
            report.batches.append(batch)
            if dry_run:
                report.sent(events=len(batch.events), size=batch.size)
            elif not _batch_send(destination, cursor, batch, report, resend=full):
                return report
        done += batch.responses
        if progress:
            progress(done, total)
    if progress and done < total:
        progress(total, total)
    if not dry_run:
        SyncCursor.objects.filter(pk=cursor.pk).update(last_success_at=timezone.now())
    return report


def _batch_settle(cursor: SyncCursor, report: SyncReport) -> bool:
    """Settle the batch an earlier run left with the engine, from the status the engine recorded;
    False when this run must stop."""
    if cursor.batch_delivery_id is None or cursor.batch_until_updated_at is None:
        return True
    status = Delivery.objects.filter(pk=cursor.batch_delivery_id).values_list("status", flat=True).first()
    if status in (Delivery.Status.FAILED, Delivery.Status.DEAD):
        # Given up: rebuild from the cursor with today's data (the same batch is replayed if unchanged).
        _cursor_move(cursor, batch_delivery=None, batch_until_updated_at=None, batch_until_response_id=None)
        return True
    delivery, attempted = delivery_send_now(delivery_id=cursor.batch_delivery_id)
    if delivery.status != Delivery.Status.DELIVERED:
        return _stopped(report, delivery)
    if attempted:
        events = delivery.payload.get("batch", []) if isinstance(delivery.payload, dict) else []
        report.sent(events=len(events), size=len(orjson.dumps(delivery.payload)))
    _cursor_advance(cursor, (cursor.batch_until_updated_at, int(cursor.batch_until_response_id or 0)))
    return True


def _batch_send(
    destination: Destination, cursor: SyncCursor, batch: Batch, report: SyncReport, *, resend: bool
) -> bool:
    """Enqueue one batch with the engine, send it at once, and move the cursor past it once the
    engine reports it delivered; False when this run must stop."""
    assert batch.until is not None
    delivery = delivery_enqueue(
        destination=destination,
        event_type=BATCH_EVENT_TYPE,
        data=batch.payload(),
        idempotency_key=batch.key,
        deliver_after_commit=False,  # sent right here: the cursor moves on its outcome
    )
    if delivery is None:  # the connector skips what is not a batch; a batch never is
        raise RuntimeError(f"the {KIND} connector did not take a sync-back batch")
    batch.delivery_id = delivery.pk
    if not _cursor_move(
        cursor,
        batch_delivery=delivery,
        batch_until_updated_at=batch.until[0],
        batch_until_response_id=batch.until[1],
    ):
        report.status, report.reason = "busy", "another run moved the cursor; it carries on"
        return False
    # A batch an earlier run delivered (and then lost its cursor move) is not sent again.
    delivery, attempted = delivery_send_now(delivery_id=delivery.pk, again=resend)
    batch.status = delivery.status
    if delivery.status != Delivery.Status.DELIVERED:
        return _stopped(report, delivery)
    if attempted:
        report.sent(events=len(batch.events), size=batch.size)
    _cursor_advance(cursor, batch.until)
    return True


def _stopped(report: SyncReport, delivery: Delivery) -> bool:
    error = delivery.last_error or delivery.status
    if delivery.status == Delivery.Status.PENDING:
        report.status = "waiting"
        report.reason = (
            f"batch {delivery.pk} failed ({error}); the engine retries it, the next run goes on from it"
        )
    elif delivery.status == Delivery.Status.IN_FLIGHT:
        report.status = "busy"
        report.reason = f"batch {delivery.pk} is being sent by another worker; the next run goes on from it"
    else:
        report.status = "failed"
        report.reason = (
            f"batch {delivery.pk} is {delivery.status} ({error}); fix the destination, then run again"
        )
    logger.warning("sync-back to destination %s stopped: %s", delivery.destination_id, report.reason)
    return False


def sync_back_destinations(*, enabled_only: bool = True) -> QuerySet[Destination]:
    """The destinations the sync-back syncs (the daily task: the enabled ones)."""
    destinations = Destination.objects.filter(kind=KIND).order_by("pk")
    return destinations.filter(enabled=True) if enabled_only else destinations


def sync_back_start(*, destinations: QuerySet[Destination]) -> int:
    """Start a sync now ("sync now" in the admin): one task per enabled Segment destination among
    `destinations`; returns how many. The broker's error, when it is down, is the caller's to show."""
    from surveys.tasks import sync_back_destination

    ids = list(destinations.filter(kind=KIND, enabled=True).values_list("pk", flat=True))
    for destination_id in ids:
        sync_back_destination.delay(destination_id)
    return len(ids)


# --- erasure ----------------------------------------------------------------------------------------


def sync_back_erase(*, person: Person, **kwargs: Any) -> dict[str, int]:
    """GDPR erasure reaches the batches (a PERSON_ERASE_HOOKS hook, named in hub/pipeline.py).

    A batch holds many people's answers in one payload: the erased person's identify calls leave it,
    and its stored request; a response that quotes them is dropped (its status stays). A batch not
    yet delivered is then sent without them; the cursor is untouched, as the batch still covers the
    same range and their answers, unlinked by the erasure, are not read again.
    """
    ids = person_ids(person=person)
    if not ids:
        return {}
    syncing = Destination.objects.filter(kind=KIND, source_id=person.source_id)
    batches = (
        Delivery.objects.select_for_update()
        .filter(destination_id__in=list(syncing.values_list("pk", flat=True)), event_type=BATCH_EVENT_TYPE)
        .filter(json_mentions("payload", ids))
    )
    removed = 0
    for delivery in batches:
        payload = delivery.payload if isinstance(delivery.payload, dict) else {}
        events = payload.get("batch")
        if not isinstance(events, list):
            continue
        kept = [
            event
            for event in events
            if not (isinstance(event, dict) and {event.get("userId"), event.get("anonymousId")} & ids)
        ]
        if len(kept) == len(events):
            continue
        removed += len(events) - len(kept)
        delivery.payload = {**payload, "batch": kept}
        if isinstance(delivery.last_exchange, dict):
            exchange = {**delivery.last_exchange}
            exchange["request_body"] = orjson.dumps(delivery.payload).decode()[:REQUEST_BODY_LIMIT]
            if any(i in str(exchange.get("response_body")) for i in ids):
                exchange["response_body"] = ""
            delivery.last_exchange = exchange
        if any(i in delivery.last_response_excerpt for i in ids):
            delivery.last_response_excerpt = ""
        delivery.save(update_fields=["payload", "last_exchange", "last_response_excerpt", "updated_at"])
    return {"sync_back_calls_erased": removed} if removed else {}
