"""Part `ingest` of `make bench`: the Segment intake's throughput on PostgreSQL, against COPY.

On its own database (a copy of the migrated template) it creates a source, starts gunicorn with the
production settings (3 sync workers; every stored batch publishes its Celery task to Redis db 15 on
commit, as in production, and nobody consumes them), drives `/v1/batch` with wrk (100 Segment-like
events per request, every messageId unique), counts the stored rows, then COPYs rows of the same
kind from this one process into the same table: the ceiling. Profiles one gunicorn worker with
py-spy under the same load. Its line:

    ingest hub_events_per_s=<n> copy_events_per_s=<n> ratio=<hub/copy>

`hub_events_per_s` is also the denominator of the processor's, the surveys' and the backlog's ratios.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import psycopg
from common import (
    BIN,
    NO_PROFILE,
    ROOT,
    WAL_SAMPLES,
    Options,
    PartResult,
    basic_auth,
    batch_read,
    bench_database,
    db_url,
    free_port,
    per_s,
    profile_kept,
    profile_summary,
    py_spy_executable,
    py_spy_record,
    redis_flush,
    wal_per_event,
)

DB_NAME = "hbench_ingest"
DB_URL = db_url(DB_NAME)
REDIS_URL = "redis://127.0.0.1:6379/15"
TABLE = "integrations_inboundevent"
WORKERS, THREADS, CONNECTIONS, EVENTS_PER_BODY, WARMUP_SECONDS = 3, 2, 8, 100, 3
MID = "MID@@"  # placeholder in body templates, replaced per request by wrk with a unique prefix

# wrk script: one Lua state per thread; `id` is set by setup(), the counter makes every body unique.
LUA = r"""
local threads = {}
local counter = 0
local templates, ntemplates, tag

function setup(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end

function init(args)
  templates = dofile(args[1])
  ntemplates = #templates
  tag = args[2]
  non200 = 0
  responses = 0
  wrk.method = "POST"
  wrk.path = "/v1/batch"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = args[3]
end

function request()
  counter = counter + 1
  local pieces = templates[(counter % ntemplates) + 1]
  local prefix = tag .. "-" .. id .. "-" .. counter
  local n = #pieces
  local out = {}
  for i = 1, n - 1 do
    out[2 * i - 1] = pieces[i]
    out[2 * i] = prefix
  end
  out[2 * n - 1] = pieces[n]
  return wrk.format(nil, nil, nil, table.concat(out))
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function done(summary, latency, requests)
  local bad, total = 0, 0
  for _, t in ipairs(threads) do
    bad = bad + t:get("non200")
    total = total + t:get("responses")
  end
  local e = summary.errors
  io.write(string.format("BENCH non200=%d responses=%d requests=%d duration_us=%d\n",
    bad, total, summary.requests, summary.duration))
  io.write(string.format("BENCH errors connect=%d read=%d write=%d status=%d timeout=%d\n",
    e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("BENCH latency p50_us=%d p90_us=%d p99_us=%d max_us=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


# --- Segment-like events ---------------------------------------------------------------------------
_PAGES = [
    ("/", "Home"),
    ("/pricing", "Pricing"),
    ("/docs/getting-started", "Getting started"),
    ("/blog/2026/11/quarterly-product-update", "Quarterly product update"),
    ("/account/billing", "Billing"),
    ("/checkout/confirm", "Confirm your order"),
]
_EVENTS = ["Order Completed", "Product Viewed", "Signed Up", "Plan Upgraded", "Survey Answered"]
_AGENTS = [
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
    "Safari/537.36",
    "python-requests/2.32.3",
]


def segment_event(rng: random.Random, message_id: str, when: datetime) -> dict[str, Any]:
    """One call as segment-analytics-python 2.x would send it (field order and shapes included)."""
    kind = rng.choices(("track", "identify", "page"), weights=(6, 2, 2))[0]
    user = f"user-{rng.randrange(1, 50_000)}"
    path, title = rng.choice(_PAGES)
    context: dict[str, Any] = {
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
        "locale": rng.choice(("en-US", "de-DE", "fr-FR")),
        "timezone": rng.choice(("Europe/Berlin", "America/New_York", "Asia/Tokyo")),
        "userAgent": rng.choice(_AGENTS),
        "library": {"name": "analytics-python", "version": "2.4.0"},
    }
    if rng.random() < 0.5:
        context["page"] = {"path": path, "url": f"https://shop.example.com{path}", "title": title}
    event: dict[str, Any] = {"integrations": {}, "context": context, "type": kind, "userId": user}
    if rng.random() < 0.3:
        event["anonymousId"] = str(uuid.UUID(int=rng.getrandbits(128)))
    if kind == "track":
        event["event"] = rng.choice(_EVENTS)
        props: dict[str, Any] = {
            "order_id": f"ord-{rng.randrange(10**8)}",
            "revenue": round(rng.uniform(5, 500), 2),
            "currency": "EUR",
        }
        if rng.random() < 0.6:
            props["products"] = [
                {"sku": f"SKU-{rng.randrange(10**5)}", "price": round(rng.uniform(1, 99), 2), "quantity": 1}
                for _ in range(rng.randrange(1, 4))
            ]
        event["properties"] = props
    elif kind == "identify":
        event["traits"] = {
            "email": f"{user}@example.com",
            "name": rng.choice(("Ann Lee", "Bo Chen", "Chris Müller", "Dana Rossi")),
            "plan": rng.choice(("free", "pro", "enterprise")),
            "createdAt": f"2026-0{rng.randrange(1, 10)}-1{rng.randrange(10)}T09:00:00+00:00",
            "company": {"name": "Example GmbH", "employees": rng.randrange(5, 5000)},
        }
    else:
        event["name"] = title
        event["properties"] = {
            "path": path,
            "url": f"https://shop.example.com{path}",
            "referrer": rng.choice(("", "https://www.google.com/", "https://news.ycombinator.com/")),
            "title": title,
            "search": "",
        }
    event["timestamp"] = when.isoformat(timespec="milliseconds")
    event["messageId"] = message_id
    return event


def sized_event(rng: random.Random, message_id: str, when: datetime) -> dict[str, Any]:
    """A segment_event whose JSON is 440-900 bytes (redrawn until it is)."""
    while True:
        event = segment_event(rng, message_id, when)
        size = len(orjson.dumps(event))
        if size < 440:
            event.setdefault("properties", {})["note"] = "x" * (440 - size + rng.randrange(0, 120))
            size = len(orjson.dumps(event))
        if 440 <= size <= 900:
            return event


def body_templates(count: int, events_per_body: int, write_key: str) -> tuple[list[list[str]], list[int]]:
    """`count` /v1/batch bodies split at the messageId placeholders; also every event's size."""
    rng = random.Random(20261101)
    sent = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    templates, sizes = [], []
    for t in range(count):
        events = []
        for i in range(events_per_body):
            when = sent - timedelta(seconds=rng.uniform(0.1, 30))
            event = sized_event(rng, f"{MID}-{t}-{i}", when)
            sizes.append(len(orjson.dumps(event)) + 30)  # the final messageId is ~30 bytes longer
            events.append(event)
        body = {"batch": events, "sentAt": sent.isoformat(), "writeKey": write_key}
        templates.append(orjson.dumps(body).decode().split(MID))
    return templates, sizes


def lua_table(templates: list[list[str]]) -> str:
    def long_string(text: str) -> str:
        level = "=" * 4
        assert f"]{level}]" not in text
        return f"[{level}[{text}]{level}]"

    return "return {\n" + ",\n".join("{" + ",".join(map(long_string, t)) + "}" for t in templates) + "\n}\n"


# --- Processes -------------------------------------------------------------------------------------
@dataclass
class Bench:
    workdir: Path
    duration: int
    env: dict[str, str]
    write_key: str
    source_id: int
    gunicorn: subprocess.Popen[bytes] | None = None
    port: int = 0

    def db_connect(self, autocommit: bool = True) -> psycopg.Connection[Any]:
        return psycopg.connect(DB_URL, autocommit=autocommit)

    def gunicorn_start(self) -> None:
        self.port = free_port()
        cmd = [str(BIN / "gunicorn"), "hub.wsgi", "--workers", str(WORKERS), "--worker-class", "sync"]
        cmd += ["--bind", f"127.0.0.1:{self.port}", "--log-level", "warning"]
        log_path = self.workdir / "gunicorn.log"
        with log_path.open("ab") as log:
            self.gunicorn = subprocess.Popen(
                cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {log_path.read_text()}")
            if len(self.worker_pids()) == WORKERS and self._answers():
                return
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not come up within 30 s")

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/batch", timeout=2)
        except urllib.error.HTTPError:
            return True  # 405 for a GET: Django answered
        except OSError:
            return False
        return True

    def worker_pids(self) -> list[int]:
        if self.gunicorn is None:
            return []
        path = Path(f"/proc/{self.gunicorn.pid}/task/{self.gunicorn.pid}/children")
        try:
            return [int(p) for p in path.read_text().split()]
        except OSError:
            return []

    def gunicorn_stop(self) -> None:
        proc, self.gunicorn = self.gunicorn, None
        if proc is None or proc.poll() is not None:
            return
        workers = self.worker_pids()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for pid in workers:  # a worker stuck in a request outlives a killed master
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def wrk_command(self, seconds: float, tag: str, script: Path, templates: Path) -> list[str]:
        return [
            "wrk",
            f"-t{THREADS}",
            f"-c{CONNECTIONS}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{self.port}",
            "--",
            str(templates),
            tag,
            basic_auth(self.write_key),
        ]

    def wrk(self, seconds: float, tag: str, script: Path, templates: Path) -> dict[str, Any]:
        command = self.wrk_command(seconds, tag, script, templates)
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
        result: dict[str, Any] = {"text": out}
        for line in out.splitlines():
            if line.startswith("BENCH "):
                for key, value in re.findall(r"(\w+)=(\d+)", line):
                    result[key] = int(value)
        result["socket_errors"] = sum(result[k] for k in ("connect", "read", "write", "timeout"))
        return result

    def count(self) -> int:
        with self.db_connect() as conn:
            row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
            assert row is not None
            return int(row[0])

    def truncate(self) -> None:
        with self.db_connect() as conn:
            conn.execute(f"TRUNCATE {TABLE} CASCADE")  # invitations point at their trigger event
            conn.execute(f"VACUUM ANALYZE {TABLE}")


@dataclass
class HubRun:
    stored: int
    seconds: float
    requests: int
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def events_per_s(self) -> float:
        return self.stored / self.seconds


def hub_run(bench: Bench, script: Path, templates: Path) -> HubRun:
    bench.gunicorn_start()
    try:
        bench.wrk(WARMUP_SECONDS, "warm", script, templates)
        time.sleep(1)  # let the last in-flight requests commit
        bench.truncate()
        result = bench.wrk(bench.duration, "measured", script, templates)
        time.sleep(1)
        stored = bench.count()
    finally:
        bench.gunicorn_stop()
    # Every answered request is a 200, and every 200 was stored (plus at most the requests in flight
    # when wrk stopped, which the server still completed).
    requests = result["requests"]
    if result["non200"] or result["socket_errors"] or result["responses"] != requests:
        raise SystemExit(f"wrk saw failures:\n{result['text']}")
    low, high = requests * EVENTS_PER_BODY, (requests + CONNECTIONS) * EVENTS_PER_BODY
    if not low <= stored <= high:
        raise SystemExit(f"stored {stored} events, expected {low}-{high}\n{result['text']}")
    return HubRun(
        stored=stored,
        seconds=result["duration_us"] / 1e6,
        requests=requests,
        p50_ms=result["p50_us"] / 1000,
        p90_ms=result["p90_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
    )


# --- The COPY ceiling ------------------------------------------------------------------------------
def copy_rows(bench: Bench, total: int) -> list[tuple[object, ...]]:
    """The rows the hub would store for `total` events of the same generator (built untimed)."""
    from integrations.services import EVENT_COLUMNS

    rng = random.Random(7)
    sent = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    received = datetime.now(UTC)
    rows: list[tuple[object, ...]] = []
    for b in range(total // EVENTS_PER_BODY):
        batch = [
            sized_event(rng, f"copy-{b}-{i}-{uuid.uuid4()}", sent - timedelta(seconds=rng.uniform(0.1, 30)))
            for i in range(EVENTS_PER_BODY)
        ]
        for event in batch_read(batch, sent=sent, received_at=received):
            values = {column: getattr(event, column, None) for column in EVENT_COLUMNS}
            values["status"] = "accepted"
            rows.append((bench.source_id, received, 0, *values.values()))
    return rows


def copy_run(bench: Bench, rows: list[tuple[object, ...]]) -> float:
    from integrations.services import EVENT_COLUMNS

    bench.truncate()
    columns = ("source_id", "received_at", "attempts", *EVENT_COLUMNS)
    with bench.db_connect(autocommit=False) as conn:
        started = time.perf_counter()
        with conn.cursor() as cursor, cursor.copy(f"COPY {TABLE} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - started
    stored = bench.count()
    if stored != len(rows):
        raise SystemExit(f"COPY stored {stored} rows of {len(rows)}")
    return len(rows) / seconds


def store_wal(source: Any) -> float:
    """WAL bytes per event of one intake request (`inbound_events_store` of 100 events, in this process)."""
    from integrations.services import inbound_events_store

    rng = random.Random(11)
    sent = datetime.now(UTC)

    def one() -> list[int]:
        batch = [
            sized_event(rng, str(uuid.uuid4()), sent - timedelta(seconds=1)) for _ in range(EVENTS_PER_BODY)
        ]
        events = batch_read(batch, sent=sent, received_at=sent)
        return inbound_events_store(source=source, received_at=sent, events=events)

    return wal_per_event(one)


# --- Profile -----------------------------------------------------------------------------------------
# A sample is charged to the first bucket whose test matches its stack (frames "func (file:line)",
# root first). Order matters: e.g. the psycopg wait inside COMMIT is "COMMIT", not "INSERT".
def _has(*needles: str) -> Any:
    return lambda stack, leaf: any(n in frame for frame in stack for n in needles)


PROFILE_BUCKETS: list[tuple[str, Any]] = [
    ("COMMIT: waiting for PostgreSQL's WAL flush", _has("Atomic.__exit__")),
    ("Celery task publish to Redis (on commit)", _has("_enqueue_processing")),
    (
        "INSERT: waiting for PostgreSQL (round trip + server work)",
        lambda stack, leaf: "_store_postgresql" in "".join(stack) and leaf.startswith("Connection.wait"),
    ),
    (
        "INSERT: psycopg adapting and sending the parameters",
        lambda stack, leaf: "_store_postgresql" in "".join(stack) and "psycopg/" in "".join(stack),
    ),
    ("INSERT: building the rows/columns in Python", _has("_store_postgresql", "_row (")),
    ("write key lookup (ORM SELECT)", _has("source_authenticate")),
    ("validation and normalisation (handler.events_read)", _has("events_read")),
    ("JSON parse (orjson, json_object_parse)", _has("json_object_parse")),
    ("reading the request body", _has("HttpRequest.body", "body_decode")),
    (
        "gunicorn: waiting for the next request (idle)",
        lambda stack, leaf: leaf.startswith(("SyncWorker.wait", "SyncWorker.accept", "select ")),
    ),
    ("gunicorn: parsing requests, writing responses", _has("gunicorn/http", "handle_request (gunicorn")),
]


def _bucket(frames: list[str]) -> str:
    return next(
        (name for name, test in PROFILE_BUCKETS if test(frames, frames[-1])),
        "other (Django plumbing: middleware, URL resolving, request/response)",
    )


def profile_run(bench: Bench, options: Options, script: Path, templates: Path) -> str:
    """py-spy on one worker under the same load: where its wall-clock time goes (idle included)."""
    py_spy = py_spy_executable()
    if py_spy is None or not options.profile_seconds:
        return NO_PROFILE
    seconds = options.profile_seconds
    bench.gunicorn_start()
    out = options.workdir / "ingest.txt"
    try:
        pid = bench.worker_pids()[0]
        load = bench.wrk_command(seconds + 4, "profile", script, templates)
        with subprocess.Popen(load, stdout=subprocess.DEVNULL) as wrk:
            time.sleep(2)
            record = py_spy_record(py_spy, pid=pid, seconds=seconds, rate=200, out=out)
            subprocess.run(record, check=True, capture_output=True, timeout=seconds + 60)
            wrk.wait(timeout=seconds + 60)
    finally:
        bench.gunicorn_stop()
    profile_kept(options, "ingest", out)
    return profile_summary(out.read_text(), _bucket, "Where (first matching bucket)", top=10)


# --- The part ----------------------------------------------------------------------------------------
def measure(options: Options) -> PartResult:
    duration = options.size(15, least=5)
    copy_events = options.size(100_000, least=10_000) // EVENTS_PER_BODY * EVENTS_PER_BODY
    redis_flush(REDIS_URL)
    try:
        with bench_database(DB_NAME, options, CELERY_BROKER_URL=REDIS_URL):
            from django.db import connection

            from integrations.services import source_create

            source, write_key = source_create(name="Bench", slug="bench")
            connection.close()
            bench = Bench(options.workdir, duration, dict(os.environ), write_key, source.pk)
            templates, sizes = body_templates(16, EVENTS_PER_BODY, write_key)
            templates_path = options.workdir / "bodies.lua"
            templates_path.write_text(lua_table(templates))
            script = options.workdir / "batch.lua"
            script.write_text(LUA)
            try:
                hub = hub_run(bench, script, templates_path)
                print(f"ingest: {hub.events_per_s:,.0f} events/s, p99 {hub.p99_ms:.0f} ms", flush=True)
                profile = profile_run(bench, options, script, templates_path)
            finally:
                bench.gunicorn_stop()
            copy_eps = copy_run(bench, copy_rows(bench, copy_events))
            print(f"ingest: COPY {copy_eps:,.0f} events/s", flush=True)
            wal = store_wal(source)
    finally:
        redis_flush(REDIS_URL)
    hub_eps = hub.events_per_s
    section = "\n".join(
        [
            "### Intake (`ingest`)",
            "",
            f"gunicorn with {WORKERS} sync workers, production settings, Celery publish to Redis on commit; "
            f"wrk {THREADS} threads, {CONNECTIONS} connections, {WARMUP_SECONDS} s warm-up then "
            f"{duration} s; `/v1/batch` bodies of {EVENTS_PER_BODY} events ({min(sizes)}-{max(sizes)} "
            f"bytes each, mean {sum(sizes) // len(sizes)}; identify/track/page as analytics-python sends "
            "them), every messageId unique; events/s = rows in the table afterwards / wrk's duration. "
            f"COPY: {copy_events:,} rows of the same kind, `cursor.copy` from one process, one transaction, "
            "into the same (truncated) table with its indexes.",
            "",
            "| Path | events/s | ratio to COPY | requests | p50 | p90 | p99 |",
            "|---|---|---|---|---|---|---|",
            f"| hub `/v1/batch` | {hub_eps:,.0f} | {hub_eps / copy_eps:.2f} | {hub.requests:,} (all 200) | "
            f"{hub.p50_ms:.0f} ms | {hub.p90_ms:.0f} ms | {hub.p99_ms:.0f} ms |",
            f"| COPY, one transaction | {copy_eps:,.0f} | 1.00 | - | - | - | - |",
            "",
            f"Where one of the {WORKERS} gunicorn workers spends its time (py-spy, "
            f"{options.profile_seconds} s, idle included):",
            "",
            profile,
            "",
            f"WAL: {wal:,.0f} bytes per event stored (median of {WAL_SAMPLES} requests of {EVENTS_PER_BODY}, "
            "`inbound_events_store` in the bench process, pg_waldump of each request's transaction, "
            "full-page images included).",
        ]
    )
    return PartResult(
        values={"hub_events_per_s": hub_eps, "copy_events_per_s": copy_eps, "wal_bytes_per_event": wal},
        line=[
            ("hub_events_per_s", per_s(hub_eps)),
            ("copy_events_per_s", per_s(copy_eps)),
            ("ratio", f"{hub_eps / copy_eps:.2f}"),
        ],
        section=section,
    )
