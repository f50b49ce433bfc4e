"""The delivery loop: workers claim due `Delivery` rows, attempt them and record the outcome, retried
across attempts stored in the database. What goes in (enqueue), replay and erasure are
integrations/deliveries.py.

    deliveries_deliver_due()   claim due rows in batches (FOR UPDATE SKIP LOCKED), attempt each, record.

Outcomes: 2xx -> delivered. Connection error, timeout, 5xx, 408/425/429 -> pending again at
now + Retry-After, or exponential backoff with jitter; once the next attempt would fall after
`retry_until` (enqueue + the destination's max age) -> dead. Other 4xx, and a destination without a
secret its settings schema requires -> failed at once.

A claimed row is `in_flight` with `next_attempt_at` = the end of its claim (the lease): if the
worker dies mid-call, the row is due again when the lease ends and another worker repeats the call
with the same idempotency key. Delivery is therefore at least once; remotes dedupe on the key.

Rate limits hold across every worker: a claim of a rate-limited destination's delivery locks the
destination row and reserves the call slot `next_slot_at`, then the worker sleeps until it.
"""

import logging
import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from hub.db import json_value
from hub.errors import error_text
from integrations.base import ConnectorError
from integrations.http import HttpClient, HttpExchange
from integrations.models import ERASED_PAYLOAD, Delivery, Destination
from integrations.registry import CONNECTORS, UnknownKind, connector_get

logger = logging.getLogger(__name__)

# Backoff of retryable failures: base * 2^(attempt-1), capped, then "equal jitter" (half fixed, half
# random) so that many deliveries failing together do not come back together.
BACKOFF_BASE_SECONDS = 10.0
BACKOFF_CAP_SECONDS = 30 * 60.0
# Even "Retry-After: 0" waits this long: a remote answering so at once must not be called in a loop.
RETRY_MIN_SECONDS = 1.0
# A rate-limited delivery whose slot is further away than this is put back (due at its slot)
# instead of holding a worker asleep.
SLOT_MAX_WAIT_SECONDS = 10.0
# Added to each rate-limit interval: absorbs the scheduling jitter between the slot and the moment
# the request reaches the remote, so two calls never arrive closer than 1/rate.
SLOT_GUARD_SECONDS = 0.05
# A slot is at least this far after its reservation: the reservation's COMMIT and the claim's return
# come before the call, and a call starting after its slot squeezes the interval to the next one
# (under load a COMMIT took 50 ms, the whole guard; tests/integrations/delivery/test_rate_limit.py).
SLOT_LEAD_SECONDS = 0.1
# A claim lasts the call's timeout plus its slot wait plus this (database writes around it, and the
# calls before it in its batch: half of it at most, see _start_by).
LEASE_MARGIN_SECONDS = 10.0
# A rate-limited destination's oldest due rows a claim considers for its one delivery, the first not
# locked by another claim: more than the claims that can run at the same time.
PACED_CANDIDATES = 32
# Deliveries claimed at once: the claim's statement and its COMMIT are shared by the batch
# (docs/benchmarks.md, Findings).
CLAIM_BATCH = 100
EXCERPT_LIMIT = 500
FORWARDED_DELETE = "delete"  # the event type of a forwarded Segment `delete` call


def failure_reason(exc: BaseException) -> str:
    """What staff read about a failure: a ConnectorError's message, else the exception (a bug), naming
    no one (`hub.errors.error_text`)."""
    if isinstance(exc, ConnectorError):
        return exc.message
    return error_text(exc)


# --- the loop ---------------------------------------------------------------------------------------


def backoff_seconds(attempts: int) -> float:
    """Seconds before attempt `attempts + 1`: 10 s, 20 s, 40 s ... up to 30 min, each with jitter."""
    delay = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)  # noqa: S311 - jitter, not a secret


def _rate_limit(destination: Destination) -> float | None:
    if destination.rate_limit_per_second:
        return destination.rate_limit_per_second
    try:
        return connector_get(destination.kind).rate_limit_per_second
    except UnknownKind:
        return None


def destination_slot_reserve(*, destination: Destination) -> float:
    """For a call made outside the loop (the admin's "send test"): reserve the destination's next call
    slot under its rate limit; returns the seconds to wait for it (above SLOT_MAX_WAIT_SECONDS
    nothing is reserved)."""
    rate = _rate_limit(destination)
    if not rate:
        return 0.0
    with transaction.atomic():
        wait, _ = _slot_take(destination.pk, rate, timezone.now, SLOT_MAX_WAIT_SECONDS)
    return wait


def _lease(destination: Destination, wait: float) -> timedelta:
    return timedelta(seconds=destination.timeout_seconds + wait + LEASE_MARGIN_SECONDS)


@dataclass
class ClaimedDelivery:
    """What an attempt needs of a claimed delivery: a plain row returned by the claim itself, not a
    model (building 100 models cost a claim more than its SQL, docs/benchmarks.md). `attempts`
    counts the attempt this claim is for."""

    pk: int
    destination_id: int
    event_type: str
    payload: Any
    idempotency_key: str
    attempts: int
    claimed_at: datetime
    retry_until: datetime


@dataclass
class _Claim:
    delivery: ClaimedDelivery
    destination: Destination
    slot: datetime | None  # a rate-limited call starts no earlier than this


def _due(now: datetime, ids: list[int] | None, skip: set[int], done: set[int]) -> "QuerySet[Delivery]":
    queryset = Delivery.objects.filter(
        status__in=[Delivery.Status.PENDING, Delivery.Status.IN_FLIGHT],
        next_attempt_at__lte=now,
        destination__enabled=True,
    )
    if ids is not None:
        queryset = queryset.filter(pk__in=ids)
    if skip:
        queryset = queryset.exclude(destination_id__in=skip)
    if done:
        queryset = queryset.exclude(pk__in=done)
    return queryset.order_by("next_attempt_at", "pk")


def _slot_take(
    destination_id: int, rate: float, clock: Callable[[], datetime], max_wait: float
) -> tuple[float, datetime]:
    """Reserve the destination's next call slot; the caller's transaction keeps the row locked.

    Returns (seconds to wait, slot); a wait above max_wait reserves nothing. The time is read
    after the lock is held: reading it before, while another worker held the row, would date the
    slot in the past and squeeze the interval.
    """
    locked = Destination.objects.select_for_update().only("next_slot_at").get(pk=destination_id)
    now = clock()
    slot = max(now + timedelta(seconds=SLOT_LEAD_SECONDS), locked.next_slot_at or now)
    wait = (slot - now).total_seconds()
    if wait <= max_wait:
        interval = timedelta(seconds=1 / rate + SLOT_GUARD_SECONDS)
        Destination.objects.filter(pk=destination_id).update(next_slot_at=slot + interval)
    return wait, slot


def deliveries_claim(
    *,
    clock: Callable[[], datetime],
    ids: list[int] | None,
    max_wait: float,
    skip: set[int],
    done: set[int],
    limit: int = CLAIM_BATCH,
) -> list[_Claim]:
    """Claim up to `limit` due deliveries, oldest due first; empty when none is due. Rows other
    workers hold are skipped, and so are those in `done` (a loop run attempts each delivery at most
    once). A claimed row is in flight until now + its destination's timeout + the margin (its lease).
    On PostgreSQL one statement selects the due rows (FOR UPDATE SKIP LOCKED OF the deliveries) and
    leases them; the destinations come from a per-process cache checked against the rows' versions.

    Rate-limited destinations get one delivery per claim (the oldest due, last in the batch): their
    other rows stay unlocked, so that concurrent loops share the rate. Its call slot is reserved
    (locking the destination row) and its lease lengthened by the wait for it; one whose next slot is
    too far away is given back, due at that slot, and the destination added to `skip`.
    """
    lease = _lease_postgresql if connection.vendor == "postgresql" else _lease_generic
    while True:
        now = clock()
        rows, destinations = lease(now=now, ids=ids, skip=skip, done=done, limit=limit)
        if not rows:
            return []
        claims: list[_Claim] = []
        for paced, row in rows:
            destination = destinations[row.destination_id]
            if not paced:
                claims.append(_Claim(delivery=row, destination=destination, slot=None))
                continue
            with transaction.atomic():
                claim = _paced_lease(row, destination, clock, max_wait, skip)
            if claim is not None:
                claims.append(claim)
        if claims:
            return claims
        # The one row leased belonged to a destination whose slot is too far: now skipped.


def _paced_lease(
    row: ClaimedDelivery,
    destination: Destination,
    clock: Callable[[], datetime],
    max_wait: float,
    skip: set[int],
) -> _Claim | None:
    """A rate-limited destination's leased row: reserve its call slot and lengthen the lease by the wait
    for it; a slot too far away gives the row back (not an attempt), due at that slot."""
    rate = _rate_limit(destination)
    if not rate:  # no longer limited since the claim's statement: an ordinary claim
        return _Claim(delivery=row, destination=destination, slot=None)
    ours = Delivery.objects.filter(pk=row.pk, status=Delivery.Status.IN_FLIGHT, claimed_at=row.claimed_at)
    # The row locked first: another claim's statement may hold it for a moment (it saw the row due and
    # found it leased), and waiting for it between the slot and the call would squeeze the interval.
    if not ours.select_for_update().exists():
        return None  # the lease ran out already, and another claim took the row
    wait, slot = _slot_take(destination.pk, rate, clock, max_wait)
    if wait > max_wait:
        skip.add(destination.pk)
        ours.update(status=Delivery.Status.PENDING, next_attempt_at=slot, attempts=F("attempts") - 1)
        return None
    ours.update(next_attempt_at=row.claimed_at + _lease(destination, wait))
    return _Claim(delivery=row, destination=destination, slot=slot)


# A claim's rows, each (whether its destination is rate-limited, the row), all leased; and their
# destinations by id.
_Leased = tuple[list[tuple[bool, ClaimedDelivery]], dict[int, Destination]]

# A destination's version: a hash of its whole row but the call slot the rate limit moves on every
# call (nothing an attempt reads).
_VERSION_SQL = "md5((to_jsonb({table}) - 'next_slot_at')::text)"

# Whether a destination (alias t) is rate-limited: a rate of its own, or its connector's (as
# _rate_limit says). %(limited_kinds)b: _limited_kinds().
_LIMITED_SQL = "(coalesce(t.rate_limit_per_second, 0) <> 0 OR t.kind = ANY(%(limited_kinds)b::text[]))"


@cache
def _claim_sql(*, ids: bool, skip: bool, done: bool) -> str:
    """The claim in one statement (PostgreSQL). `paced`: the oldest due row of a rate-limited
    destination that no other claim holds (among each one's PACED_CANDIDATES oldest, found through
    the index delivery_destination_due: the planner cannot tell which destinations are limited, and
    by the due index would walk the whole backlog); no scan when no destination is limited;
    `due`: the oldest due rows of the others, as many as the limit leaves; both locked (FOR UPDATE
    SKIP LOCKED OF the deliveries) and leased by `claimed` (a paced row's lease grows by its slot
    wait afterwards). Each row comes with its destination's version (a hash of the row, computed
    once per destination). Rows: paced last, each group oldest due first."""
    due = ["d.status IN ('pending', 'in_flight')", "d.next_attempt_at <= %(now)b"]
    if ids:
        due.append("d.id = ANY(%(ids)b::bigint[])")
    if skip:
        due.append("d.destination_id <> ALL(%(skip)b::bigint[])")
    if done:
        due.append("d.id <> ALL(%(done)b::bigint[])")
    where = " AND ".join(due)
    deliveries, destinations = Delivery._meta.db_table, Destination._meta.db_table
    return f"""
        WITH paced AS (
            SELECT d.id, d.next_attempt_at AS due_at FROM {deliveries} d
            WHERE {where} AND d.id IN (
                SELECT oldest.id FROM {destinations} t CROSS JOIN LATERAL (
                    SELECT d.id FROM {deliveries} d WHERE d.destination_id = t.id AND {where}
                    ORDER BY d.next_attempt_at, d.id LIMIT {PACED_CANDIDATES}
                ) oldest
                WHERE t.enabled AND {_LIMITED_SQL}
            )
            ORDER BY d.next_attempt_at, d.id LIMIT 1
            FOR UPDATE OF d SKIP LOCKED
        ), due AS (
            SELECT d.id, d.next_attempt_at AS due_at
            FROM {deliveries} d JOIN {destinations} t ON t.id = d.destination_id
            WHERE {where} AND t.enabled AND NOT {_LIMITED_SQL}
            ORDER BY d.next_attempt_at, d.id LIMIT %(limit)b - (SELECT count(*) FROM paced)
            FOR UPDATE OF d SKIP LOCKED
        ), claimed AS (
            UPDATE {deliveries} d SET status = 'in_flight', attempts = d.attempts + 1,
                claimed_at = %(now)b, updated_at = %(now)b,
                next_attempt_at = %(now)b + make_interval(secs => t.timeout_seconds + %(margin)b)
            FROM (
                SELECT id, due_at, false AS paced FROM due UNION ALL SELECT id, due_at, true FROM paced
            ) c, {destinations} t
            WHERE d.id = c.id AND t.id = d.destination_id
            RETURNING c.paced, c.due_at, d.id, d.destination_id, d.event_type, d.payload,
                d.idempotency_key, d.attempts, d.retry_until
        ), versions AS (
            SELECT t.id, {_VERSION_SQL.format(table="t")} AS version FROM {destinations} t
            WHERE t.id IN (SELECT destination_id FROM claimed)
        )
        SELECT c.paced, c.id, c.destination_id, c.event_type, c.payload, c.idempotency_key, c.attempts,
            c.retry_until, v.version
        FROM claimed c JOIN versions v ON v.id = c.destination_id
        ORDER BY c.paced, c.due_at, c.id
    """  # noqa: S608 - our own names; values are bound


def _lease_postgresql(
    *, now: datetime, ids: list[int] | None, skip: set[int], done: set[int], limit: int
) -> _Leased:
    """One statement, atomic by itself: no transaction of its own (in one, it joins it). psycopg's errors
    become Django's, as on the ORM's cursors, so that Django drops a broken connection after the task.
    The destinations come from the per-process cache, by the versions the statement read."""
    import psycopg

    sql = _claim_sql(ids=ids is not None, skip=bool(skip), done=bool(done))
    params = {
        "now": now,
        "limit": limit,
        "margin": LEASE_MARGIN_SECONDS,
        "limited_kinds": _limited_kinds(),
        "ids": ids,
        "skip": list(skip),
        "done": list(done),
    }
    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=True)
        found = cursor.fetchall()
    if connection.queries_logged:  # as Django's own cursor does (CaptureQueriesContext, DEBUG)
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    rows: list[tuple[bool, ClaimedDelivery]] = []
    versions: dict[int, str] = {}
    for paced, pk, destination_id, event_type, payload, key, attempts, retry_until, version in found:
        row = ClaimedDelivery(
            pk=pk,
            destination_id=destination_id,
            event_type=event_type,
            payload=json_value(payload),  # jsonb arrives as text on Django's connections
            idempotency_key=key,
            attempts=attempts,
            claimed_at=now,
            retry_until=retry_until,
        )
        rows.append((paced, row))
        versions[destination_id] = version
    return rows, _destinations_cached(versions)


_ROW_FIELDS = ("pk", "destination_id", "event_type", "payload", "idempotency_key", "attempts", "retry_until")


def _lease_generic(
    *, now: datetime, ids: list[int] | None, skip: set[int], done: set[int], limit: int
) -> _Leased:
    """The claim elsewhere (SQLite in embedded mode, one writer at a time): the same rows, by the ORM;
    the destinations loaded once, for their timeouts and the attempts (no cache: no versions here)."""
    with transaction.atomic():
        due = _due(now, ids, skip, done).select_for_update(skip_locked=True, of=("self",))
        limited = _limited_destinations()

        def select(
            queryset: "QuerySet[Delivery]", count: int, paced: bool
        ) -> list[tuple[bool, ClaimedDelivery]]:
            return [
                (paced, ClaimedDelivery(**dict(zip(_ROW_FIELDS, values, strict=True)), claimed_at=now))
                for values in queryset.values_list(*_ROW_FIELDS)[:count]
            ]

        rows = select(due.filter(destination_id__in=limited), 1, True) if limited else []
        if limit > len(rows):
            rows[:0] = select(due.exclude(destination_id__in=limited), limit - len(rows), False)
        destinations = Destination.objects.in_bulk({row.destination_id for _, row in rows})
        leases: dict[float, list[ClaimedDelivery]] = {}
        for _, row in rows:
            row.attempts += 1
            leases.setdefault(destinations[row.destination_id].timeout_seconds, []).append(row)
        for timeout, group in leases.items():
            Delivery.objects.filter(pk__in=[row.pk for row in group]).update(
                status=Delivery.Status.IN_FLIGHT,
                attempts=F("attempts") + 1,
                claimed_at=now,
                next_attempt_at=now + timedelta(seconds=timeout + LEASE_MARGIN_SECONDS),
                updated_at=now,
            )
    return rows, destinations


# The destinations the claims attempt for, kept per process: {id: (version, destination)}. A claim
# on PostgreSQL reads each destination's version (a hash of its row) with its rows, and one changed
# in any way (an edit, a new secret; not its rate-limit slot) is loaded again.
_destinations_seen: dict[int, tuple[str, Destination]] = {}
_DESTINATIONS_KEPT = 1_000


def _destinations_cached(versions: dict[int, str]) -> dict[int, Destination]:
    """The destinations of a claim, `versions` as its statement read them: from the cache, or loaded
    (one query) where the version differs. A destination loaded is kept under the claim's version: if
    it changed in between, the row is newer than that version and the next claim loads it again."""
    seen = _destinations_seen
    stale = [pk for pk, version in versions.items() if pk not in seen or seen[pk][0] != version]
    if stale:
        if len(seen) + len(stale) > _DESTINATIONS_KEPT:
            seen.clear()
        for pk, destination in Destination.objects.in_bulk(stale).items():
            seen[pk] = (versions[pk], destination)
    return {pk: seen[pk][1] for pk in versions}


def _limited_destinations() -> list[int]:
    """Destinations with a rate limit of their own or their connector's (a small table, ids only)."""
    own = Q(rate_limit_per_second__isnull=False) & ~Q(rate_limit_per_second=0)
    return list(
        Destination.objects.filter(own | Q(kind__in=_limited_kinds())).order_by().values_list("pk", flat=True)
    )


@cache
def _limited_kinds() -> list[str]:
    return [kind for kind in CONNECTORS if connector_get(kind).rate_limit_per_second]


def _start_by(claim: _Claim) -> datetime:
    """The last moment the claimed call may start and still end inside its lease, with half the
    margin to spare: a claim further down a batch waits for the calls before it."""
    started = claim.slot or claim.delivery.claimed_at
    assert started is not None
    return started + timedelta(seconds=LEASE_MARGIN_SECONDS / 2)


def _give_back(claims: list[_Claim], clock: Callable[[], datetime]) -> None:
    """Claimed, unattempted deliveries due again now (while the claim is ours; not an attempt)."""
    for claimed_at in {claim.delivery.claimed_at for claim in claims}:
        Delivery.objects.filter(
            pk__in=[claim.delivery.pk for claim in claims if claim.delivery.claimed_at == claimed_at],
            status=Delivery.Status.IN_FLIGHT,
            claimed_at=claimed_at,
        ).update(status=Delivery.Status.PENDING, next_attempt_at=clock(), attempts=F("attempts") - 1)


def _exchange_fields(exchange: HttpExchange | None) -> dict[str, Any]:
    if exchange is None:
        return {"last_http_status": None, "last_response_excerpt": "", "last_exchange": None}
    return {
        "last_http_status": exchange.status,
        "last_response_excerpt": exchange.response_body[:EXCERPT_LIMIT],
        "last_exchange": exchange.as_dict(),
    }


def delivery_attempt(*, claim: _Claim, clock: Callable[[], datetime]) -> str:
    """Make one claimed call and record its outcome; returns the delivery's new status."""
    delivery, destination = claim.delivery, claim.destination
    if claim.slot is not None:
        # Sleep until the slot itself, not for a wait computed before the claim's locks and writes:
        # those took time, and starting late would squeeze the gap to the next worker's call.
        time.sleep(max(0.0, (claim.slot - clock()).total_seconds()))
    secrets = destination.secret_values()
    client = HttpClient(timeout=destination.timeout_seconds, secrets=secrets.values())
    exchange: HttpExchange | None = None
    error: ConnectorError | None = None
    try:
        connector = connector_get(destination.kind)
        connector.settings_schema.secrets_check(secrets)
        exchange = connector.deliver(
            destination=destination,
            payload=delivery.payload,
            idempotency_key=delivery.idempotency_key,
            client=client,
        )
    except ConnectorError as exc:
        error = exc
        exchange = exc.exchange
    except Exception as exc:
        # A connector bug or an unknown kind: retried (a fix or a config change may cure it), logged.
        logger.exception("delivery %s to destination %s raised", delivery.pk, destination.pk)
        error = ConnectorError(failure_reason(exc))
    finally:
        client.close()

    now = clock()
    fields: dict[str, Any] = _exchange_fields(exchange)
    if error is None:
        fields.update(status=Delivery.Status.DELIVERED, delivered_at=now, last_error="")
    elif error.permanent:
        fields.update(status=Delivery.Status.FAILED, last_error=error.message)
    else:
        delay = backoff_seconds(delivery.attempts) if error.retry_after is None else error.retry_after
        delay = max(delay, RETRY_MIN_SECONDS)
        next_at = now + timedelta(seconds=delay)
        if next_at > delivery.retry_until:
            gave_up = f"gave up: still failing after {destination.max_age_seconds // 60} min"
            fields.update(status=Delivery.Status.DEAD, last_error=f"{error.message} ({gave_up})")
        else:
            fields.update(status=Delivery.Status.PENDING, next_attempt_at=next_at, last_error=error.message)
    if delivery.event_type == FORWARDED_DELETE and fields["status"] != Delivery.Status.PENDING:
        fields.update(_delete_forgotten(fields))
    fields["updated_at"] = now
    # Only while our claim holds: a worker that took longer than its lease lost the row to another.
    recorded = Delivery.objects.filter(
        pk=delivery.pk, status=Delivery.Status.IN_FLIGHT, claimed_at=delivery.claimed_at
    ).update(**fields)
    if not recorded:
        logger.warning("delivery %s: the claim expired before the outcome was recorded", delivery.pk)
    return str(fields["status"])


def _delete_forgotten(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A forwarded `delete` keeps the person's ids only until the vendor had its chance to erase them
    too: once it is delivered, failed or dead, its payload and exchange go like the rest of them (the
    HTTP status stays, and a failure says what kind it was, without the remote's words)."""
    erased: dict[str, Any] = {"payload": ERASED_PAYLOAD, "last_exchange": None, "last_response_excerpt": ""}
    if fields["status"] != Delivery.Status.DELIVERED:
        status = fields.get("last_http_status")
        erased["last_error"] = (
            f"{'no answer' if status is None else f'HTTP {status}'}; "
            "the forwarded delete's details were erased with the person"
        )
    return erased


def deliveries_deliver_due(
    *,
    now: datetime | None = None,
    limit: int = 200,
    ids: Iterable[int] | None = None,
    budget_seconds: float = 50.0,
    max_wait: float = SLOT_MAX_WAIT_SECONDS,
) -> int:
    """Attempt due deliveries (only those among `ids` when given), claimed in batches of up to
    CLAIM_BATCH, until none is due, `limit` attempts were made, or `budget_seconds` passed. Returns
    the number of attempts. A claimed delivery that could no longer start inside its lease (the calls
    before it in the batch took long), or that the budget leaves unattempted, is given back, due now.

    `now` fixes the clock (tests); otherwise every claim reads the current time.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else timezone.now
    id_list = list(ids) if ids is not None else None
    skip: set[int] = set()
    done: set[int] = set()
    started = time.monotonic()
    attempts = 0
    while attempts < limit and time.monotonic() - started < budget_seconds:
        batch = min(CLAIM_BATCH, limit - attempts)
        claims = deliveries_claim(
            clock=clock, ids=id_list, max_wait=max_wait, skip=skip, done=done, limit=batch
        )
        if not claims:
            break
        done.update(claim.delivery.pk for claim in claims)
        for index, claim in enumerate(claims):
            out_of_time = time.monotonic() - started >= budget_seconds
            if index and (out_of_time or clock() > _start_by(claim)):
                rest = claims[index:]
                _give_back(rest, clock)
                if not out_of_time:  # this run may claim them again
                    done.difference_update(c.delivery.pk for c in rest)
                break
            delivery_attempt(claim=claim, clock=clock)
            attempts += 1
    return attempts
