"""Rules of the intake: authenticate sources, store calls durably, process them after commit."""

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import NamedTuple, Protocol

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from hub.db import binary_rows, bulk_update, model_columns, model_from_row
from hub.errors import error_text
from hub.pipeline import PIPELINE, pipeline_functions
from integrations.models import InboundEvent, Source, WriteKey, write_key_generate, write_key_lookup_hash
from integrations.segment.handler import ParsedEvent

logger = logging.getLogger(__name__)

# The event-log columns the intake writes per event (after source_id, received_at, attempts).
EVENT_COLUMNS = (
    "message_id",
    "type",
    "user_id",
    "anonymous_id",
    "event",
    "timestamp",
    "original_timestamp",
    "sent_at",
    "payload",
    "status",
    "reason",
)

# What processing claims: accepted calls, and collectors' pending ones it has not run on yet.
_UNPROCESSED = Q(status=InboundEvent.Status.ACCEPTED) | Q(
    status=InboundEvent.Status.PENDING, processed_at=None
)


# Write keys the intake recognised lately: key hash -> (when, the source's id, name, slug). A request
# asked the database for its key every time (a fifth of an intake worker's time, docs/benchmarks.md);
# now once per INTAKE_WRITE_KEY_CACHE_SECONDS (at most 5) per process, so disabling a key or a source,
# or deleting it, takes effect within that time. Unknown or disabled keys are never kept.
_recent_keys: dict[str, tuple[float, int, str, str]] = {}
_RECENT_KEYS_MAX = 1000  # live keys: a handful per source


class KeyCheck(NamedTuple):
    """What the intake's write-key lookup found: the enabled source, or None and, for a key the hub
    knows but refuses (it or its source disabled), that source's id, so the refused call is counted
    for it without asking again (`integrations/refused_calls.py`)."""

    source: Source | None
    refused_source_id: int | None = None


def source_authenticate(*, write_key: str | None) -> KeyCheck:
    """The enabled source owning an enabled write key, or None (unknown, disabled, or no key) and the
    source of a disabled one; one query, none for a key recognised lately."""
    key_hash = write_key_lookup_hash(write_key)
    if key_hash is None:
        return KeyCheck(None)
    now = time.time()
    recent = _recent_keys.get(key_hash)
    if recent is not None and 0 <= now - recent[0] < settings.INTAKE_WRITE_KEY_CACHE_SECONDS:
        return KeyCheck(
            Source.from_db(DEFAULT_DB_ALIAS, ["id", "name", "slug", "enabled"], [*recent[1:], True])
        )
    found = (
        WriteKey.objects.select_related("source")
        .only("enabled", "source__id", "source__name", "source__slug", "source__enabled")
        .filter(key_hash=key_hash)
        .first()
    )
    if found is None or not found.enabled or not found.source.enabled:
        _recent_keys.pop(key_hash, None)
        return KeyCheck(None, found.source_id if found is not None else None)
    source = found.source
    if settings.INTAKE_WRITE_KEY_CACHE_SECONDS > 0:
        if len(_recent_keys) >= _RECENT_KEYS_MAX:
            _recent_keys.clear()
        _recent_keys[key_hash] = (now, source.pk, source.name, source.slug)
    return KeyCheck(source)


def write_keys_forget() -> None:
    """Forget the write keys this process recognised lately (tests; the next request asks again)."""
    _recent_keys.clear()


def source_create(*, name: str, slug: str, write_key: str | None = None) -> tuple[Source, str]:
    """Create a source with one write key (generated unless given); returns the key in clear once."""
    key = write_key or write_key_generate()
    with transaction.atomic():
        source = Source.objects.create(name=name, slug=slug)
        write_key_add(source=source, key=key)
    return source, key


def write_key_add(*, source: Source, key: str | None = None, label: str = "") -> WriteKey:
    write_key = WriteKey(source=source, label=label)
    write_key.set_key(key or write_key_generate())
    write_key.save()
    return write_key


def _row(event: ParsedEvent) -> tuple[object, ...]:
    status = InboundEvent.Status.REJECTED if event.rejected else InboundEvent.Status.ACCEPTED
    return (
        event.message_id,
        event.type,
        event.user_id,
        event.anonymous_id,
        event.event,
        event.timestamp,
        event.original_timestamp,
        event.sent_at,
        event.payload,
        str(status),
        event.reason,
    )


def _store_postgresql(source_id: int, received_at: datetime, events: Sequence[ParsedEvent]) -> list[int]:
    """One statement per request: arrays in, unnest, ON CONFLICT DO NOTHING, new accepted ids out.

    The arrays travel in binary (`%b`) on a server-side-binding cursor (psycopg 3). With `%s` psycopg
    picks the text array format and escapes every element with a regex in Python, which cost ~100 µs
    per event (JSON payloads are full of quotes) against ~5 µs in binary (docs/benchmarks.md).
    """
    import psycopg

    columns = list(zip(*(_row(e) for e in events), strict=True))
    sql = f"""
        INSERT INTO {InboundEvent._meta.db_table}
            (source_id, received_at, attempts, {", ".join(EVENT_COLUMNS)})
        SELECT %s, %s, 0, m, t, u, a, e, ts, ots, sa, p::jsonb, st, r
        FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[],
                    %b::timestamptz[], %b::timestamptz[], %b::timestamptz[],
                    %b::text[], %b::text[], %b::text[]) AS x(m, t, u, a, e, ts, ots, sa, p, st, r)
        ON CONFLICT (source_id, message_id) DO NOTHING
        RETURNING id, status
    """  # noqa: S608 - the table name is ours, every value is a bound parameter
    connection.ensure_connection()
    raw = connection.connection
    # psycopg's own errors (AdminShutdown, "consuming input failed", ...) become Django's, as on the
    # ORM's cursors: the view answers them 503, and Django drops the broken connection afterwards.
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, [source_id, received_at, *map(list, columns)], binary=True)
        return [row[0] for row in cursor.fetchall() if row[1] == InboundEvent.Status.ACCEPTED]


def _store_generic(source_id: int, received_at: datetime, events: Sequence[ParsedEvent]) -> list[int]:
    """Portable path (SQLite in embedded mode): one INSERT ... ON CONFLICT DO NOTHING per event."""
    sql = f"""
        INSERT INTO {InboundEvent._meta.db_table}
            (source_id, received_at, attempts, {", ".join(EVENT_COLUMNS)})
        VALUES (%s, %s, 0, {", ".join(["%s"] * len(EVENT_COLUMNS))})
        ON CONFLICT (source_id, message_id) DO NOTHING
        RETURNING id, status
    """  # noqa: S608 - the table name is ours, every value is a bound parameter
    ids = []
    with connection.cursor() as cursor:
        for event in events:
            cursor.execute(sql, [source_id, received_at, *_row(event)])  # type: ignore[list-item]
            row = cursor.fetchone()
            if row is not None and row[1] == InboundEvent.Status.ACCEPTED:
                ids.append(row[0])
    return ids


def inbound_events_store(
    *, source: Source, received_at: datetime, events: Sequence[ParsedEvent]
) -> list[int]:
    """Commit the calls of one request; returns the ids of newly accepted events (duplicates skipped).

    Processing is enqueued only once the rows are committed, and a failed enqueue loses nothing:
    `inbound_events_sweep` finds accepted events that no worker took.
    """
    if not events:
        return []
    store = _store_postgresql if connection.vendor == "postgresql" else _store_generic
    with transaction.atomic():
        ids = store(source.pk, received_at, events)
        if ids:
            transaction.on_commit(lambda: _enqueue_processing(ids))
    return ids


def _enqueue_processing(ids: list[int]) -> None:
    from integrations.tasks import process_inbound_events

    try:
        process_inbound_events.delay(ids)
    except Exception:  # the broker is down: the sweeper will take these events later
        logger.warning(
            "could not enqueue %d events for processing; the sweeper will pick them up",
            len(ids),
            exc_info=True,
        )


# What processing does with claimed events: the handlers of hub/pipeline.py (customer records,
# surveys, forwarding), in that order. Each takes the list of events (in timestamp order) and does
# its work for all of them at once: one handler call per batch keeps the queries per event low.
class EventHandler(Protocol):
    def __call__(self, *, events: Sequence[InboundEvent]) -> None: ...


def event_handlers() -> Sequence[EventHandler]:
    return pipeline_functions(PIPELINE)


def events_handle(*, events: Sequence[InboundEvent]) -> None:
    for handler in event_handlers():
        handler(events=events)


def inbound_events_process(*, ids: Iterable[int]) -> int:
    """Process accepted events among `ids`; returns how many were processed.

    Rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED, so two workers (or a worker and the
    sweeper) never process the same event. The handlers first take the whole batch; if that fails,
    each event is retried alone, so one bad event is marked failed with its error and the others
    are processed.
    """
    return _batch_process(ids=list(ids)).processed


def inbound_events_process_waiting(*, ids: Iterable[int], seconds: float | None = None) -> int:
    """The intake's task: process `ids` (one request's events), then, while this worker is warm, the
    accepted events that wait in the same source, oldest first, `WAITING_CHUNK` per transaction, for
    up to `seconds` (default INTAKE_PROCESS_WAITING_SECONDS); returns how many were processed.

    A busy intake enqueues one task per request: the first tasks to run take their successors'
    events, so those tasks find their ids done and return at once (one statement), and a backlog is
    worked off in larger transactions without a task's overhead per request. Claims skip locked
    rows as `inbound_events_process` does, so any number of workers can drain one source; the bound
    in time keeps the queue's other tasks (deliveries, emails) from waiting behind a long backlog.
    """
    if seconds is None:
        seconds = settings.INTAKE_PROCESS_WAITING_SECONDS
    deadline = time.monotonic() + seconds
    batch = _batch_process(ids=list(ids))
    done = batch.processed
    # Nothing claimed: another worker took these events, and it drains their source.
    sources = {event.source_id for event in batch.events}
    while len(sources) == 1 and time.monotonic() < deadline:
        batch = _batch_process(source_id=sources.pop(), limit=WAITING_CHUNK)
        done += batch.processed
        sources = {event.source_id for event in batch.events}
    return done


# Events per transaction when a task goes on with its source's waiting events. Larger chunks cost
# fewer statements per event, but two workers whose chunks name the same person take turns (the
# records handler's locks): in the backlog part of make bench, chunks of 500 left 2 workers slower
# than 1 (19.8 s against 15.0 s); 100 and 300 were alike (docs/benchmarks.md).
WAITING_CHUNK = 100


@dataclass(frozen=True)
class _Batch:
    events: list[InboundEvent]  # claimed, in timestamp order
    processed: int


def _batch_process(*, ids: list[int] | None = None, source_id: int = 0, limit: int = 0) -> _Batch:
    """One transaction: claim events (`ids`, or the oldest `limit` accepted ones of `source_id`), run
    the pipeline on them, write what it changed.

    If the pipeline fails on the batch, the transaction is rolled back and each event is processed
    alone, in a transaction of its own, so that a bad event is failed with its error and the others
    are processed. No savepoint around the pipeline: two statements less per batch.
    """
    events: list[InboundEvent] = []
    try:
        with transaction.atomic():
            now = timezone.now()
            events = _claim(ids=ids, source_id=source_id, limit=limit, now=now)
            _events_run(events, now)
        return _Batch(events, len(events))
    except Exception:
        if not events:  # the claim itself failed
            raise
        logger.info("a batch of %d events failed; processing them one by one", len(events), exc_info=True)
    return _Batch(events, sum(_process_alone(event.pk) for event in events))


def _claim(*, ids: list[int] | None, source_id: int, limit: int, now: datetime) -> list[InboundEvent]:
    claim = _claim_postgresql if connection.vendor == "postgresql" else _claim_generic
    return claim(ids=ids, source_id=source_id, limit=limit, now=now)


def _events_run(events: list[InboundEvent], now: datetime) -> None:
    """The pipeline on claimed events, then their outcome where it is not what the claim wrote."""
    if not events:
        return
    # What the claim wrote (the outcome when all goes well): processed, or pending until the
    # collector's decision; the intake's notes as reason; processed now.
    claimed = [
        (InboundEvent.Status.PROCESSED if e.status == InboundEvent.Status.ACCEPTED else e.status, e.reason)
        for e in events
    ]
    events_handle(events=events)
    for event in events:
        if event.status == InboundEvent.Status.ACCEPTED:  # a pending one waits for its decision
            event.status = InboundEvent.Status.PROCESSED
        event.processed_at = now
    changed = [
        event
        for event, written in zip(events, claimed, strict=True)
        if (event.status, event.reason) != written
    ]
    bulk_update(InboundEvent, changed, ["status", "reason", "processed_at"])


def _process_alone(pk: int) -> bool:
    try:
        with transaction.atomic():
            now = timezone.now()
            events = _claim(ids=[pk], source_id=0, limit=0, now=now)
            _events_run(events, now)
        return bool(events)  # none: another worker took it meanwhile
    except Exception as exc:
        logger.exception("processing event %s failed", pk)
        error = error_text(exc)
    with transaction.atomic():
        for event in _claim(ids=[pk], source_id=0, limit=0, now=timezone.now()):
            event.status = InboundEvent.Status.FAILED
            event.reason = error
            # processed_at as before the claim
            bulk_update(InboundEvent, [event], ["status", "reason", "processed_at"])
    return False


# The claim, one statement: lock unprocessed events that no other transaction holds (the events
# alone, not their source, or every other worker on that source would skip them), and write what
# processing leaves when all goes well: processed (a pending one stays pending until its collector
# decides), tried once more, processed now. Each row comes back with its status and processed_at
# from before, and its source; the batch's end writes only the events whose outcome differs
# (failed, or a note added).
_CLAIM_SQL = """
    WITH claimed AS (
        UPDATE {events} AS e
        SET status = CASE WHEN e.status = '{accepted}' THEN '{processed}' ELSE e.status END,
            attempts = e.attempts + 1, processed_at = %b
        FROM ({which}) AS before
        WHERE e.id = before.id
        RETURNING e.*, before.status AS status_before, before.processed_at AS processed_at_before
    )
    SELECT {columns}, c.status_before, c.processed_at_before, s.name, s.slug, s.enabled, s.created_at
    FROM claimed c JOIN {sources} s ON s.id = c.source_id
    ORDER BY c.timestamp, c.id
"""
_CLAIM_IDS = """
    SELECT id, status, processed_at FROM {events}
    WHERE id = ANY(%b::bigint[])
        AND (status = '{accepted}' OR (status = '{pending}' AND processed_at IS NULL))
    FOR UPDATE SKIP LOCKED
"""
_CLAIM_WAITING = """
    SELECT id, status, processed_at FROM {events}
    WHERE source_id = %b AND status = '{accepted}'
    ORDER BY received_at LIMIT %b
    FOR UPDATE SKIP LOCKED
"""
_SOURCE_FIELDS = ["id", "name", "slug", "enabled", "created_at"]


@cache
def _claim_sql(which: str) -> str:
    names = {
        "events": InboundEvent._meta.db_table,
        "sources": Source._meta.db_table,
        "columns": model_columns(InboundEvent, "c"),  # built by model_from_row (JSON by orjson)
        **{status.name.lower(): status.value for status in InboundEvent.Status},
    }
    return _CLAIM_SQL.format(which=which.format(**names), **names)


def _claim_postgresql(
    *, ids: list[int] | None, source_id: int, limit: int, now: datetime
) -> list[InboundEvent]:
    if ids is None:
        rows = binary_rows(_claim_sql(_CLAIM_WAITING), [now, source_id, limit])
    else:
        rows = binary_rows(_claim_sql(_CLAIM_IDS), [now, ids]) if ids else []
    width = len(InboundEvent._meta.concrete_fields)
    sources: dict[int, Source] = {}
    events = []
    for row in rows:
        event = model_from_row(InboundEvent, row[:width])
        # The handlers see each event as it was before the claim: accepted (or pending), processed_at
        # unchanged.
        event.status, event.processed_at = row[width], row[width + 1]
        source = sources.get(event.source_id)
        if source is None:
            source = sources[event.source_id] = Source.from_db(
                connection.alias, _SOURCE_FIELDS, [event.source_id, *row[width + 2 :]]
            )
        event.source = source
        events.append(event)
    return events


def _claim_generic(*, ids: list[int] | None, source_id: int, limit: int, now: datetime) -> list[InboundEvent]:
    """The claim elsewhere (SQLite in embedded mode: one writer at a time, no row locks)."""
    query = InboundEvent.objects.select_related("source")
    if ids is not None:
        query = query.filter(_UNPROCESSED, pk__in=ids)
    else:
        query = query.filter(source_id=source_id, status=InboundEvent.Status.ACCEPTED).order_by(
            "received_at"
        )[:limit]
    events = sorted(query, key=lambda e: (e.timestamp is None, e.timestamp or now, e.pk))
    InboundEvent.objects.filter(pk__in=[e.pk for e in events]).update(
        status=Case(
            When(status=InboundEvent.Status.ACCEPTED, then=Value(InboundEvent.Status.PROCESSED)),
            default=F("status"),
        ),
        attempts=F("attempts") + 1,
        processed_at=now,
    )
    for event in events:
        event.attempts += 1
    return events


def inbound_events_sweep(*, older_than: timedelta | None = None, chunk: int = 500) -> int:
    """Process accepted events that waited longer than `older_than` (their enqueue was lost)."""
    if older_than is None:
        older_than = timedelta(seconds=settings.INTAKE_SWEEP_AFTER_SECONDS)
    cutoff = timezone.now() - older_than
    total = 0
    last_id = 0
    while True:
        ids = list(
            InboundEvent.objects.filter(
                status=InboundEvent.Status.ACCEPTED, received_at__lt=cutoff, pk__gt=last_id
            )
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return total
        total += inbound_events_process(ids=ids)
        last_id = ids[-1]


def inbound_events_reprocess(*, ids: Iterable[int]) -> int:
    """Admin "reprocess": put processed or failed events back to accepted and process them now."""
    ids = list(
        InboundEvent.objects.filter(pk__in=list(ids))
        .exclude(status=InboundEvent.Status.REJECTED)
        .values_list("pk", flat=True)
    )
    InboundEvent.objects.filter(pk__in=ids).update(status=InboundEvent.Status.ACCEPTED, reason="")
    return inbound_events_process(ids=ids)
