"""Part `deliveries` of `make bench`: claiming due deliveries, against a bare SKIP LOCKED loop.

On its own database: a source, one webhook destination (never called: only the claims are timed),
and a delivery table holding delivered history plus rows due now. Each loop claims every due row,
from the same state (all of them due again, VACUUM ANALYZE in between), twice, interleaved:

- hub: `integrations.delivery_loop.deliveries_claim(limit=100)`, as `deliveries_deliver_due(limit=100)`
  claims before its attempts (one statement per batch: the due rows FOR UPDATE SKIP LOCKED OF the
  deliveries, leased by an UPDATE ... RETURNING, with their destinations' versions; the destinations
  from the process's cache);
- bare, batch of 100 (the ceiling): one transaction per 100 rows on a plain psycopg connection,
  `SELECT id ... ORDER BY next_attempt_at, id LIMIT 100 FOR UPDATE SKIP LOCKED` and one UPDATE
  marking them in flight with a lease, as the hub's claim does;
- bare, one row per transaction: the same with LIMIT 1, to tell batching from ORM costs.

Its line:

    deliveries claims_per_s=<n> bare_claims_per_s=<n> ratio=<hub/bare> batch=100
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import psycopg
from common import (
    Options,
    PartResult,
    bench_database,
    db_url,
    innermost_step,
    per_s,
    profile_self,
    profile_summary,
    ratio,
    sql,
    vacuum_analyze,
)

DB_NAME = "hbench_deliveries"
BATCH = 100
TABLE = "integrations_delivery"
ROUNDS = 2

BARE_CLAIM = f"""
    SELECT id FROM {TABLE}
    WHERE status IN ('pending', 'in_flight') AND next_attempt_at <= now()
    ORDER BY next_attempt_at, id LIMIT %s FOR UPDATE SKIP LOCKED
"""
BARE_MARK = f"""
    UPDATE {TABLE} SET status = 'in_flight', attempts = attempts + 1, claimed_at = now(),
        next_attempt_at = now() + interval '40 seconds', updated_at = now()
    WHERE id = ANY(%s)
"""


@dataclass
class Loop:
    name: str
    claims: int = 0
    seconds: float = 0.0

    @property
    def per_s(self) -> float:
        return self.claims / self.seconds if self.seconds else 0.0


def deliveries_create(due: int, history: int) -> None:
    """One webhook destination, `history` delivered rows and `due` rows due now (untimed)."""
    from django.utils import timezone

    from integrations.models import Delivery, Destination
    from integrations.services import source_create

    source, _ = source_create(name="Bench", slug="bench")
    # A long timeout, so no claim's lease (timeout + margin) ends while a loaded machine still claims
    # the rest: an expired lease makes its row due again and the hub would claim it twice.
    destination = Destination.objects.create(
        source=source,
        kind="webhook",
        name="Bench hooks",
        settings={"url": "https://hooks.example.com/nps"},
        timeout_seconds=600,
    )
    now = timezone.now()
    for offset in range(0, due + history, 5_000):
        Delivery.objects.bulk_create(
            [
                Delivery(
                    destination=destination,
                    event_type="response.created",
                    idempotency_key=f"response-{n}-created",
                    payload={"type": "response.created", "data": {"response": n, "rating": n % 11}},
                    status=Delivery.Status.PENDING if n < due else Delivery.Status.DELIVERED,
                    attempts=0 if n < due else 1,
                    next_attempt_at=now - timedelta(seconds=n % 600),
                    retry_until=now + timedelta(days=1),
                    delivered_at=None if n < due else now,
                )
                for n in range(offset, min(offset + 5_000, due + history))
            ]
        )


def due_again(due: int) -> None:
    """Every claimed row due again, as before the first loop (and each claimed once: nothing else is
    in flight)."""
    changed = sql(
        f"UPDATE {TABLE} SET status = 'pending', attempts = 0, claimed_at = NULL,"
        " next_attempt_at = now() - interval '1 minute' WHERE status = 'in_flight' RETURNING id"
    )
    if len(changed) != due:
        raise SystemExit(f"{len(changed)} deliveries were claimed, {due} expected")
    vacuum_analyze((TABLE,))


def hub_claims(running: Callable[[], bool] = lambda: True) -> int:
    """Claim batches of up to BATCH until none is due (or `running()` turns false); claims made."""
    from django.db import close_old_connections
    from django.utils import timezone

    from integrations.delivery_loop import SLOT_MAX_WAIT_SECONDS, deliveries_claim

    claimed = 0
    while running():
        done: set[int] = set()
        claims = deliveries_claim(
            clock=timezone.now, ids=None, max_wait=SLOT_MAX_WAIT_SECONDS, skip=set(), done=done, limit=BATCH
        )
        done.update(claim.delivery.pk for claim in claims)
        claimed += len(done)
        close_old_connections()  # between tasks, as Celery's Django fixup does
        if len(done) < BATCH:
            break
    return claimed


def bare_claims(batch: int) -> int:
    claimed = 0
    with psycopg.connect(db_url(DB_NAME), autocommit=True) as conn:
        while True:
            with conn.transaction():
                ids = [row[0] for row in conn.execute(BARE_CLAIM, [batch])]
                if ids:
                    conn.execute(BARE_MARK, [ids])
            claimed += len(ids)
            if not ids:
                return claimed


def timed(loop: Loop, claim: Callable[[], int], due: int) -> None:
    started = time.perf_counter()
    claimed = claim()
    loop.seconds += time.perf_counter() - started
    if claimed != due:
        raise SystemExit(f"{loop.name}: {claimed} claims of {due} due deliveries")
    loop.claims += claimed
    due_again(due)


# Frames are "func (file:line)", root first: charged to the innermost step that matches.
STEPS: list[tuple[str, str]] = [
    ("_paced_lease (", "rate limit slot"),
    ("_destinations_cached (", "the destinations (cache, or load)"),
    ("_lease_postgresql (", "the claim statement (select, lock, lease)"),
    ("close_if_health_check_failed (", "Django's connection health check"),
    ("Atomic.__exit__ (", "COMMIT"),
    ("Atomic.__enter__ (", "BEGIN"),
]


def measure(options: Options) -> PartResult:
    due, history = options.size(1_000, least=200), options.size(20_000, least=1_000)
    hub, bare, bare_one = Loop("hub"), Loop(f"bare, {BATCH} per transaction"), Loop("bare, 1 per transaction")
    with bench_database(DB_NAME, options):
        deliveries_create(due, history)
        vacuum_analyze((TABLE,))
        for _ in range(ROUNDS):
            timed(bare, lambda: bare_claims(BATCH), due)
            timed(hub, hub_claims, due)
        timed(bare_one, lambda: bare_claims(1), due)
        print(f"deliveries: hub {hub.per_s:,.0f} claims/s, bare {bare.per_s:,.0f}", flush=True)
        raw, _ = profile_self(options, "deliveries-claims", hub_claims)
    table = [
        f"| {loop.name} | {loop.claims:,} | {loop.seconds:.2f} | {loop.per_s:,.0f} | "
        f"{ratio(loop.per_s, bare.per_s):.2f} |"
        for loop in (hub, bare, bare_one)
    ]
    section = "\n".join(
        [
            "### Delivery claims (`deliveries`)",
            "",
            f"A delivery table with {history:,} delivered rows and {due:,} due now, for one webhook "
            f"destination; each loop claims all {due:,} ({ROUNDS} rounds for hub and bare, interleaved; all "
            "due again and VACUUM ANALYZE between loops). hub: `deliveries_claim(limit=100)` until none is "
            "due, as `deliveries_deliver_due(limit=100)` claims (one statement per batch); bare: a plain "
            "psycopg connection, `SELECT id ... LIMIT n FOR UPDATE SKIP LOCKED` and one UPDATE to in "
            "flight with a lease per transaction.",
            "",
            "| loop | claims | seconds | claims/s | ratio to bare, 100 per transaction |",
            "|---|---|---|---|---|",
            *table,
            "",
            f"Where the hub's claims spend their time (py-spy, {options.profile_seconds} s at most, "
            "wall clock):",
            "",
            profile_summary(
                raw, lambda frames: innermost_step(frames, STEPS), "Where", inside="deliveries_claim ("
            ),
        ]
    )
    return PartResult(
        values={"claims_per_s": hub.per_s, "bare_claims_per_s": bare.per_s},
        line=[
            ("claims_per_s", per_s(hub.per_s)),
            ("bare_claims_per_s", per_s(bare.per_s)),
            ("ratio", f"{ratio(hub.per_s, bare.per_s):.2f}"),
            ("batch", str(BATCH)),
        ],
        section=section,
    )
