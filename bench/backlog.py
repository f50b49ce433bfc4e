"""Part `backlog` of `make bench`: a backlog of identify calls drained by real Celery workers.

On its own database, with Redis db 14 as the broker: a source, the two automated surveys of the
`surveys` part (without the send window, so that two runs minutes apart decide alike), and identify
calls for half as many users (each user twice, with other traits, in random order) stored with the
intake's own services: every request of 100 publishes its `process_inbound_events` task to Redis on
commit, as in production, while no worker consumes the queue. That is the backlog.

Then `celery -A hub worker --pool=solo` processes (the hub's own tasks and settings), started on an
empty queue, are told to consume the real one at the same moment (`add_consumer`); the clock runs
until no event is left accepted (people, traits and invitations are written in the same
transactions). First with 2 workers, then, from the same state (customer tables and invitations
emptied, events accepted again, the same tasks published again), with 1. Both runs must leave the
same rows: a digest of every person (traits, typed columns), identity, account and invitation
(survey, person, status, due time; "at processing" for one inside the run), without ids or
processing times. One of the two workers is profiled with py-spy (50 Hz). Its line:

    backlog events=<n> workers=2 seconds=<s> events_per_s=<n> one_worker_seconds=<s> speedup=<r>
        same_rows=<yes|no> invitations=<n> seconds_for_200k=<s, estimated from the rate when the backlog is
        smaller>
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import cast

from common import (
    ROOT,
    CpuTimes,
    Options,
    PartResult,
    bench_database,
    calls_store,
    events_unprocess,
    per_s,
    profile_kept,
    profile_summary,
    py_spy_executable,
    py_spy_record,
    ratio,
    redis_flush,
    sql,
    vacuum_analyze,
)
from survey_invitations import TABLES, WRITTEN, identify_calls, surveys_create

DB_NAME = "hbench_backlog"
REDIS_URL = "redis://127.0.0.1:6379/14"
QUEUE = "celery"  # Celery's default queue: where process_inbound_events goes
HOLD = "hbench-hold"  # what the workers consume until the clock starts: nothing is published there
TARGET_EVENTS, TARGET_SECONDS = 200_000, 60

# Canonical rows: no ids, no processing times; an invitation due "at processing" when due inside the run.
DIGESTS = {
    "people": """
        SELECT concat_ws('|', user_id, email, traits::text, trait_times::text, first_name, last_name, name,
                         gender, language, timezone, created_at, last_seen_at)
        FROM customers_person""",
    "identities": """
        SELECT concat_ws('|', p.user_id, i.kind, i.value)
        FROM customers_identity i JOIN customers_person p ON p.id = i.person_id""",
    "accounts": """
        SELECT concat_ws('|', group_id, traits::text, name, industry, plan, employees, created_at)
        FROM customers_account""",
    "invitations": """
        SELECT concat_ws('|', s.slug, p.user_id, i.status,
                         CASE WHEN i.due_at BETWEEN %(start)s AND %(end)s THEN 'at processing'
                              ELSE i.due_at::text END)
        FROM surveys_invitation i JOIN surveys_survey s ON s.id = i.survey_id
        LEFT JOIN customers_person p ON p.id = i.person_id""",
}


@dataclass
class Drain:
    workers: int
    events: int
    seconds: float
    busy: float  # % of all CPU time on the machine while it ran (ours and everything else)
    steal: float
    digests: dict[str, tuple[int, str]] = field(default_factory=dict)  # table -> (rows, md5)

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds


def digests(start: datetime, end: datetime) -> dict[str, tuple[int, str]]:
    found = {}
    for table, rows in DIGESTS.items():
        query = f"SELECT count(*), coalesce(md5(string_agg(r, E'\\n' ORDER BY r)), '') FROM ({rows}) AS x(r)"
        ((count, digest),) = sql(query, {"start": start, "end": end})
        found[table] = (int(count), str(digest))
    return found


def queued() -> int:
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        return cast(int, client.llen(QUEUE))
    finally:
        client.close()


def accepted_left() -> int:
    return int(sql("SELECT count(*) FROM integrations_inboundevent WHERE status = 'accepted'")[0][0])


class Workers:
    """`count` Celery worker processes (pool solo, the hub's settings), consuming HOLD until `go()`."""

    def __init__(self, count: int, workdir: Path) -> None:
        self.names = [f"hbench{n}@localhost" for n in range(1, count + 1)]
        self.logs = [workdir / f"worker-{count}-{n}.log" for n in range(1, count + 1)]
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for name, log in zip(self.names, self.logs, strict=True):
            command = [sys.executable, "-m", "celery", "-A", "hub", "worker", "--pool=solo"]
            command += ["--without-gossip", "--without-mingle", "--loglevel=INFO", "-Q", HOLD, "-n", name]
            with log.open("wb") as out:
                self.processes.append(
                    subprocess.Popen(
                        command, cwd=ROOT, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT
                    )
                )
        deadline = time.monotonic() + 60
        while not all(b"ready." in log.read_bytes() for log in self.logs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in self.processes):
                raise SystemExit(f"a Celery worker did not start:\n{self.logs[0].read_text()[-2000:]}")
            time.sleep(0.2)

    def go(self) -> None:
        from hub.celery import app

        replies = app.control.add_consumer(QUEUE, destination=self.names, reply=True, timeout=10) or []
        if len(replies) != len(self.names):
            raise SystemExit(f"not every worker took the queue: {replies}")

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes = []


def drain(workers: int, events: int, options: Options, profile: bool) -> tuple[Drain, str | None]:
    """Start the workers on the hold queue, then let them take the backlog; time until none is left."""
    from django.utils import timezone

    pool = Workers(workers, options.workdir)
    spy: subprocess.Popen[bytes] | None = None
    out = options.workdir / "backlog.txt"
    try:
        pool.start()
        start, cpu = timezone.now(), CpuTimes.now()
        started = time.perf_counter()
        pool.go()
        py_spy = py_spy_executable()
        if profile and py_spy and options.profile_seconds:  # from the start on (it takes ~1 s to attach)
            command = py_spy_record(py_spy, pid=pool.processes[0].pid, seconds=3600, rate=50, out=out)
            spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while accepted_left():
            time.sleep(0.25)
            if any(p.poll() is not None for p in pool.processes):
                raise SystemExit(f"a Celery worker died:\n{pool.logs[0].read_text()[-2000:]}")
        seconds = time.perf_counter() - started
        busy, steal = CpuTimes.now().since(cpu)
        end = timezone.now()
    finally:
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it recorded
            spy.wait(timeout=60)
        pool.stop()
    failed = sql("SELECT status, reason FROM integrations_inboundevent WHERE status <> 'processed'")
    if failed:
        raise SystemExit(f"{len(failed)} events were not processed, e.g. {failed[:3]}")
    raw = None
    if spy is not None and out.exists():
        profile_kept(options, "backlog-worker", out)
        raw = out.read_text()
    return Drain(workers, events, seconds, busy, steal, digests(start, end)), raw


# Frames are "func (file:line)", root first.
AREAS: list[tuple[str, str]] = [
    ("surveys_process_events (", "surveys (triggers, decisions, invitations)"),
    ("people_process_events (", "customer records"),
    ("Atomic.__exit__ (", "COMMIT"),
    ("inbound_events_process (", "claim the events, mark them processed"),
    ("_claim (", "claim the events, mark them processed"),  # the task's waiting events (_batch_process)
]


def _label(frames: list[str]) -> str:
    kind = "SQL" if any("psycopg/" in f for f in frames) else "Python"
    for needle, area in AREAS:
        if any(f.startswith(needle) for f in frames):
            return f"{area}, {kind}"
    if any("inbound_events_process" in f for f in frames):
        return f"processor, other, {kind}"
    if any(f.startswith(("Consumer.", "Connection.drain_events", "Channel.")) for f in frames):
        return "Celery: waiting for or fetching tasks"
    return f"Celery and other, {kind}"


def measure(options: Options) -> PartResult:
    events = options.size(24_000, least=2_000) // 200 * 200
    redis_flush(REDIS_URL)
    try:
        with bench_database(DB_NAME, options, CELERY_BROKER_URL=REDIS_URL):
            from django.utils import timezone

            from integrations.services import source_create
            from integrations.tasks import process_inbound_events

            source, _ = source_create(name="Bench", slug="bench")
            surveys_create(source, send_window=False)
            chunks = calls_store(source, identify_calls(events // 2, timezone.now(), seed=5, per_user=2))
            if queued() != len(chunks):
                raise SystemExit(f"{queued()} tasks in Redis, {len(chunks)} requests stored")
            vacuum_analyze(TABLES)
            two, raw = drain(2, events, options, profile=True)
            print(f"backlog: {events:,} events, 2 workers {two.seconds:.1f} s", flush=True)
            events_unprocess(WRITTEN)
            for chunk in chunks:
                process_inbound_events.delay(chunk)
            one, _ = drain(1, events, options, profile=False)
            print(f"backlog: 1 worker {one.seconds:.1f} s", flush=True)
    finally:
        redis_flush(REDIS_URL)
    same = two.digests == one.digests
    differ = [t for t in DIGESTS if two.digests[t] != one.digests[t]]
    invitations = two.digests["invitations"][0]
    estimate = TARGET_EVENTS / two.events_per_s
    scaled = (
        ""
        if events >= TARGET_EVENTS
        else f" (measured on {events:,}; the 200k figure is estimated from the rate)"
    )
    rows = [
        f"| {d.workers} | {d.events:,} | {d.seconds:.1f} | {d.events_per_s:,.0f} | {d.busy:.0f} % | "
        f"{d.steal:.1f} % | {d.digests['people'][0]:,} | {d.digests['invitations'][0]:,} |"
        for d in (two, one)
    ]
    section = "\n".join(
        [
            "### Backlog drained by Celery workers (`backlog`)",
            "",
            f"{events:,} identify calls for {events // 2:,} users (each twice, other plan and logins, random "
            "order), stored as the intake stores them, one `process_inbound_events` task per request of 100 "
            "waiting in Redis; two automated surveys (every new person; min 3 / max 14 days, no send "
            "window). `celery -A hub worker --pool=solo` processes with the production settings, started "
            "on an empty queue, then told to consume the backlog at once; timed until no event is left "
            f"accepted{scaled}.",
            "",
            "| workers | events | seconds | events/s | CPUs busy | steal | people | invitations |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Same rows with 2 workers as with 1: **{'yes' if same else 'no: ' + ', '.join(differ)}** "
            "(digest of every person's traits and typed columns, identity, account and invitation).",
            f"200,000 calls would take {estimate:.0f} s at the 2 workers' rate (target: {TARGET_SECONDS} s).",
            "",
            "Where one worker's time goes (py-spy, 50 Hz, the whole 2-worker drain, idle included):",
            "",
            profile_summary(raw, _label, "Where (one of the 2 workers, whole drain)", top=10),
        ]
    )
    return PartResult(
        values={
            "events": events,
            "events_per_s": two.events_per_s,
            "target_events_per_s": TARGET_EVENTS / TARGET_SECONDS,
            "speedup": ratio(one.seconds, two.seconds),
            "same_rows": 1.0 if same else 0.0,
            "invitations": invitations,
        },
        line=[
            ("events", str(events)),
            ("workers", "2"),
            ("seconds", f"{two.seconds:.1f}"),
            ("events_per_s", per_s(two.events_per_s)),
            ("one_worker_seconds", f"{one.seconds:.1f}"),
            ("speedup", f"{ratio(one.seconds, two.seconds):.2f}"),
            ("same_rows", "yes" if same else "no"),
            ("invitations", str(invitations)),
            ("seconds_for_200k", f"{estimate:.0f}"),
        ],
        section=section,
        notes=[]
        if events >= TARGET_EVENTS
        else [
            f"The backlog was {events:,} calls, not 200,000 (to fit the run in 10 minutes); its 200k time is "
            "estimated from the measured rate."
        ],
    )
