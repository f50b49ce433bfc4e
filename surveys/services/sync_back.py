"""The daily NPS sync-back to Segment: one `identify` per person whose latest response changed since
the last successful sync, with the traits `NPS_rating`, `NPS_comment` and `NPS_date` (when that
rating was given: `Response.rated_at`).

    report = sync_back_run(destination=destination)               # the beat task, "sync now", manage.py
    report = sync_back_run(destination=destination, dry_run=True)  # what would be sent; sends nothing

How it stays exactly-once-per-change across failures:

- Responses are read in (updated_at, id) order after the destination's `SyncCursor`, and only those
  that are their person's latest (by answered_at, then id) are sent: a comment added to an older
  answer never overwrites a newer rating downstream.
- They are packed into `/v1/batch` bodies within Segment's limits (500 KB, 2,500 events). Each batch
  is one `Delivery` of the engine (integrations/deliveries.py) with the idempotency key
  `sync-back:<sha256 of its messageIds>`, and batches go one after the other: the cursor moves past
  a batch only once its delivery is delivered. A batch that fails stays with the engine (retries,
  dead, replay) and is the cursor's `batch_delivery`; the next run finishes it first, then goes on.
- messageIds are a hash of (destination, response id, updated_at): a rerun, a retry or a forced
  resend (`full=True`) sends the same ids, so Segment (or a hub) drops what it already has.
- Responses written in the last `SETTLE_SECONDS` wait for the next run: a transaction that commits
  late with an earlier updated_at must not fall behind the cursor.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from customers.models import Identity, Person
from customers.services.people import person_ids
from hub.db import json_mentions
from integrations.deliveries import deliveries_replay
from integrations.delivery_loop import deliveries_deliver_due
from integrations.http import REQUEST_BODY_LIMIT, user_agent
from integrations.models import Delivery, Destination, Source, SyncCursor
from integrations.segment.connector import SegmentConnector
from surveys.models import Response

logger = logging.getLogger(__name__)

KIND = SegmentConnector.kind
EVENT_TYPE = "sync_back.batch"  # Delivery.event_type of a sync-back batch
# Segment's limits (HTTP API doc): 500 KB and 2,500 events per batch, 32 KB per event.
MAX_BATCH_BYTES = 500_000
MAX_BATCH_EVENTS = 2_500
MAX_EVENT_BYTES = 32_768
SETTLE_SECONDS = 60.0
PAGE_SIZE = 2_000  # responses read per query
_ENVELOPE = (b'{"batch":[', b"]}")

Progress = Callable[[int, int], None]  # (responses done, responses in total)


@dataclass
class Batch:
    """One /v1/batch body and the cursor position it covers up to."""

    events: list[dict[str, Any]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    size: int = len(_ENVELOPE[0]) + len(_ENVELOPE[1])
    responses: int = 0  # responses read for it, sent or skipped
    until: tuple[datetime, int] | None = None
    delivery_id: int | None = None
    status: str = ""

    @property
    def key(self) -> str:
        return "sync-back:" + hashlib.sha256(",".join(self.message_ids).encode()).hexdigest()

    def payload(self) -> dict[str, Any]:
        return {"batch": self.events}


@dataclass
class SyncReport:
    """What one run did (or, dry, would do)."""

    destination_id: int
    dry_run: bool = False
    # done: everything found was delivered; waiting: a batch is with the engine's retries; failed: a
    # batch was refused (fix and rerun); busy: another run holds the batch; disabled / misconfigured.
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


# --- reading ----------------------------------------------------------------------------------------


def _after(position: tuple[datetime | None, int]) -> Q:
    at, response_id = position
    if at is None:
        return Q()
    return Q(updated_at__gt=at) | Q(updated_at=at, pk__gt=response_id)


def responses_changed(
    *, source: Source, after: tuple[datetime | None, int], until: datetime
) -> QuerySet[Response]:
    """Responses of the source's people changed after `after` (and no later than `until`), in
    (updated_at, id) order, annotated `is_latest`: whether it is its person's most recent answer."""
    newer = Response.objects.filter(person_id=OuterRef("person_id")).filter(
        Q(answered_at__gt=OuterRef("answered_at"))
        | Q(answered_at=OuterRef("answered_at"), pk__gt=OuterRef("pk"))
    )
    return (
        Response.objects.filter(person__source=source, updated_at__lte=until)
        .filter(_after(after))
        .annotate(is_newer=Exists(newer))
        .order_by("updated_at", "pk")
    )


def _anonymous_ids(person_ids: set[int]) -> dict[int, str]:
    """Each person's first anonymousId: the id the source used for them before any userId."""
    found: dict[int, str] = {}
    rows = (
        Identity.objects.filter(person_id__in=person_ids, kind=Identity.Kind.ANONYMOUS)
        .order_by("person_id", "created_at", "pk")
        .values_list("person_id", "value")
    )
    for person_id, value in rows:
        found.setdefault(person_id, value)
    return found


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_id(*, destination_id: int, response_id: int, updated_at: datetime) -> str:
    """Stable per (destination, response, version of the response): the same on every rerun and
    resend, new when the answer changes. Destinations differ because Segment's dedupe is global."""
    at = updated_at.astimezone(UTC).isoformat(timespec="microseconds")
    return "fh-" + hashlib.sha256(f"{destination_id}:{response_id}:{at}".encode()).hexdigest()[:40]


def identify_event(
    *, destination_id: int, row: dict[str, Any], user_id: str | None, anonymous_id: str | None
) -> dict[str, Any]:
    """The identify call for one response (`row`: id, rating, comment, rated_at, updated_at).

    NPS_date is when the rating was given (or last changed), as Callexa sends it; the call's
    timestamp is when the answer last changed, so a receiver that orders traits by time (a hub)
    takes a comment added later, or the survivor's answer after a merge, as the newer value.
    """
    event: dict[str, Any] = {"type": "identify"}
    if user_id:
        event["userId"] = user_id
    else:
        event["anonymousId"] = anonymous_id
    event["traits"] = {
        "NPS_rating": int(row["rating"]),
        "NPS_comment": row["comment"] or "",
        "NPS_date": _iso(row["rated_at"]),
    }
    event["timestamp"] = _iso(row["updated_at"])
    event["messageId"] = message_id(
        destination_id=destination_id, response_id=row["id"], updated_at=row["updated_at"]
    )
    event["context"] = {"library": {"name": "feedback-hub", "version": user_agent().partition("/")[2]}}
    return event


def _encoded(event: dict[str, Any]) -> bytes:
    """The event's JSON; a comment too long for Segment's 32 KB per event is cut to fit."""
    data = orjson.dumps(event)
    while len(data) > MAX_EVENT_BYTES:
        comment = event["traits"]["NPS_comment"]
        event["traits"]["NPS_comment"] = comment[: max(0, len(comment) - (len(data) - MAX_EVENT_BYTES) - 16)]
        data = orjson.dumps(event)
    return data


def batches_build(
    *,
    destination: Destination,
    source: Source,
    after: tuple[datetime | None, int],
    until: datetime,
    report: SyncReport,
) -> Iterator[Batch]:
    """The batches to send after `after`, built page by page (keyset), each within Segment's limits."""
    batch = Batch()
    position = after
    while True:
        changed = responses_changed(source=source, after=position, until=until)
        fields = (
            "id",
            "rating",
            "comment",
            "rated_at",
            "updated_at",
            "person_id",
            "person__user_id",
            "is_newer",
        )
        page = list(changed.values(*fields)[:PAGE_SIZE])
        if not page:
            break
        anonymous = _anonymous_ids(
            {r["person_id"] for r in page if not r["person__user_id"] and not r["is_newer"]}
        )
        for row in page:
            report.responses += 1
            user_id, anonymous_id = row["person__user_id"], anonymous.get(row["person_id"])
            if row["is_newer"] or not (user_id or anonymous_id):
                report.skipped += 1  # the person answered again later, or has no id the source knows
                batch.responses += 1
                batch.until = (row["updated_at"], row["id"])
                continue
            event = identify_event(
                destination_id=destination.pk, row=row, user_id=user_id, anonymous_id=anonymous_id
            )
            data = _encoded(event)
            separator = 1 if batch.events else 0
            if batch.events and (
                len(batch.events) >= MAX_BATCH_EVENTS or batch.size + separator + len(data) > MAX_BATCH_BYTES
            ):
                yield batch
                batch, separator = Batch(), 0
            batch.events.append(event)
            batch.message_ids.append(event["messageId"])
            batch.size += separator + len(data)
            batch.responses += 1
            batch.until = (row["updated_at"], row["id"])
        position = (page[-1]["updated_at"], page[-1]["id"])
    if batch.events:
        yield batch


# --- sending ----------------------------------------------------------------------------------------


def _delivery_for(destination: Destination, batch: Batch) -> Delivery:
    """The batch's delivery: the existing one with its key (a rerun of the same batch), or a new one."""
    key = batch.key
    existing = Delivery.objects.filter(destination=destination, idempotency_key=key).first()
    if existing is not None:
        return existing
    now = timezone.now()
    try:
        with transaction.atomic():
            return Delivery.objects.create(
                destination=destination,
                event_type=EVENT_TYPE,
                idempotency_key=key,
                payload=batch.payload(),
                created_at=now,
                next_attempt_at=now,
                retry_until=now + timedelta(seconds=destination.max_age_seconds),
            )
    except IntegrityError:  # another run created it at the same moment
        return Delivery.objects.get(destination=destination, idempotency_key=key)


def _delivery_send(delivery: Delivery, *, resend: bool = False) -> tuple[str, bool]:
    """Send the delivery now, through the engine; returns its status afterwards and whether this
    call sent it.

    Delivered: nothing is sent again (unless `resend`). Failed or dead: replayed (same key, fresh
    retry window). Pending: due now, whatever its backoff. In flight elsewhere: waited for.
    """
    delivery.refresh_from_db()
    status = delivery.status
    if status == Delivery.Status.DELIVERED and not resend:
        return status, False
    if status in (Delivery.Status.FAILED, Delivery.Status.DEAD, Delivery.Status.DELIVERED):
        deliveries_replay(ids=[delivery.pk])
    elif status == Delivery.Status.PENDING:
        Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.PENDING).update(
            next_attempt_at=timezone.now()
        )
    deliveries_deliver_due(ids=[delivery.pk], limit=1)
    delivery.refresh_from_db()
    # Another worker (the task a replay enqueues, or a concurrent run) may hold it: wait for its outcome.
    deadline = time.monotonic() + delivery.destination.timeout_seconds + 15
    while delivery.status == Delivery.Status.IN_FLIGHT and time.monotonic() < deadline:
        time.sleep(0.2)
        delivery.refresh_from_db()
    return delivery.status, True


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
    connector = SegmentConnector()
    problems = (
        [f"the destination is of kind '{destination.kind}', not '{KIND}'"]
        if destination.kind != KIND
        else connector.validate(settings=destination.settings, secrets=destination.secret_values())
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
        if not _batch_in_progress_finish(destination, cursor, report):
            return report
    after = (None, 0) if (full and dry_run) else (cursor.last_response_updated_at, cursor.last_response_id)
    total = responses_changed(source=source, after=after, until=until).count()
    done = 0
    if progress:
        progress(done, total)
    for batch in batches_build(
        destination=destination, source=source, after=after, until=until, report=report
    ):
        report.batches.append(batch)
        if dry_run:
            report.people += len(batch.events)
            report.requests += 1
            report.bytes += batch.size
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


def _batch_in_progress_finish(destination: Destination, cursor: SyncCursor, report: SyncReport) -> bool:
    """Finish the batch an earlier run left with the engine; False when this run must stop."""
    if cursor.batch_delivery_id is None or cursor.batch_until_updated_at is None:
        return True
    delivery = Delivery.objects.get(pk=cursor.batch_delivery_id)
    if delivery.status in (Delivery.Status.FAILED, Delivery.Status.DEAD):
        # Given up: rebuild from the cursor with today's data (the same batch is replayed if unchanged).
        _cursor_move(cursor, batch_delivery=None, batch_until_updated_at=None, batch_until_response_id=None)
        return True
    status, sent = _delivery_send(delivery)
    if status != Delivery.Status.DELIVERED:
        return _stopped(report, delivery, status)
    if sent:
        events = delivery.payload.get("batch", []) if isinstance(delivery.payload, dict) else []
        report.people += len(events)
        report.requests += 1
        report.bytes += len(orjson.dumps(delivery.payload))
    _cursor_advance(cursor, (cursor.batch_until_updated_at, int(cursor.batch_until_response_id or 0)))
    return True


def _batch_send(
    destination: Destination, cursor: SyncCursor, batch: Batch, report: SyncReport, *, resend: bool
) -> bool:
    """Send one batch and move the cursor past it once delivered; False when this run must stop."""
    assert batch.until is not None
    delivery = _delivery_for(destination, batch)
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
    status, sent = _delivery_send(delivery, resend=resend)
    batch.status = status
    if status != Delivery.Status.DELIVERED:
        return _stopped(report, delivery, status)
    if sent:
        report.people += len(batch.events)
        report.requests += 1
        report.bytes += batch.size
    _cursor_advance(cursor, batch.until)
    return True


def _stopped(report: SyncReport, delivery: Delivery, status: str) -> bool:
    delivery.refresh_from_db()
    error = delivery.last_error or status
    if status == Delivery.Status.PENDING:
        report.status = "waiting"
        report.reason = (
            f"batch {delivery.pk} failed ({error}); the engine retries it, the next run goes on from it"
        )
    elif status == Delivery.Status.IN_FLIGHT:
        report.status, report.reason = "busy", f"batch {delivery.pk} is being sent by another worker"
    else:
        report.status = "failed"
        report.reason = f"batch {delivery.pk} is {status} ({error}); fix the destination, then run again"
    logger.warning("sync-back to destination %s stopped: %s", delivery.destination_id, report.reason)
    return False


def sync_back_destinations() -> QuerySet[Destination]:
    """The destinations the daily task syncs."""
    return Destination.objects.filter(kind=KIND, enabled=True).order_by("pk")


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
        .filter(destination_id__in=list(syncing.values_list("pk", flat=True)), event_type=EVENT_TYPE)
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
