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

from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

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
# A claim lasts the call's timeout plus its slot wait plus this (database writes around it, and the
# calls before it in its batch: half of it at most, see _start_by).
LEASE_MARGIN_SECONDS = 10.0
# Deliveries claimed in one transaction: the claim's round trips and COMMIT are shared by the batch
# (docs/benchmarks.md, Findings).
CLAIM_BATCH = 100
EXCERPT_LIMIT = 500
FORWARDED_DELETE = "delete"  # the event type of a forwarded Segment `delete` call


def failure_reason(exc: BaseException) -> str:
    """What staff read about a failure: a ConnectorError's message, else the exception (a bug)."""
    if isinstance(exc, ConnectorError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"[:1000]


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
class _Claim:
    delivery: Delivery
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
    slot = max(now, locked.next_slot_at or now)
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
    """Claim up to `limit` due deliveries in one transaction (a due query FOR UPDATE SKIP LOCKED, the
    destinations loaded once, one UPDATE per lease: usually one); empty when none is due. Rows other
    workers hold are skipped, and so are those in `done` (a loop run attempts each delivery at most
    once).

    Rate-limited destinations get one delivery per claim, locked by a query of its own (LIMIT 1) and
    last in the batch, with its call slot reserved: their other rows stay unlocked, so that concurrent
    loops share the rate. One whose next slot is too far away is added to `skip` and its delivery
    stays pending, due at that slot.
    """
    while True:
        now = clock()
        with transaction.atomic():
            due = _due(now, ids, skip, done).select_for_update(skip_locked=True, of=("self",))
            limited = _limited_destinations()
            paced = list(due.filter(destination_id__in=limited)[:1]) if limited else []
            rows = (
                list(due.exclude(destination_id__in=limited)[: limit - len(paced)])
                if limit > len(paced)
                else []
            )
            rows += paced
            if not rows:
                return []
            destinations = Destination.objects.in_bulk({delivery.destination_id for delivery in rows})
            claims: list[_Claim] = []
            for delivery in rows:
                destination = destinations[delivery.destination_id]
                wait, slot = 0.0, None
                rate = _rate_limit(destination)
                if rate:
                    wait, slot = _slot_take(destination.pk, rate, clock, max_wait)
                    if wait > max_wait:
                        skip.add(destination.pk)
                        Delivery.objects.filter(pk=delivery.pk).update(
                            status=Delivery.Status.PENDING, next_attempt_at=slot
                        )
                        continue
                delivery.status = Delivery.Status.IN_FLIGHT
                delivery.attempts += 1
                delivery.claimed_at = delivery.updated_at = now
                delivery.next_attempt_at = now + _lease(destination, wait)
                claims.append(_Claim(delivery=delivery, destination=destination, slot=slot))
            # One UPDATE per lease (destinations' timeouts and slot waits): usually one for the batch.
            leases: dict[datetime, list[int]] = {}
            for claim in claims:
                leases.setdefault(claim.delivery.next_attempt_at, []).append(claim.delivery.pk)
            for lease_end, pks in leases.items():
                Delivery.objects.filter(pk__in=pks).update(
                    status=Delivery.Status.IN_FLIGHT,
                    attempts=F("attempts") + 1,
                    claimed_at=now,
                    next_attempt_at=lease_end,
                    updated_at=now,
                )
        if claims:
            return claims
        # The one row selected belonged to a destination whose slot is too far: now skipped.


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
