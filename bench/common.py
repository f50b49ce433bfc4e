"""Shared by the parts of `make bench` (bench/run.py): options and results, databases, Django, stored
calls, timed processing, machine context, py-spy profiles and docs/benchmarks.md.

Imported as `common` (bench/ is on sys.path: the parts run as `python bench/run.py --part NAME`).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import importlib.metadata
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
from cryptography.fernet import Fernet

if TYPE_CHECKING:
    from integrations.segment.handler import ParsedEvent

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
DOCS = ROOT / "docs" / "benchmarks.md"
# Every part's database is a copy of this one, migrated once per run (CREATE DATABASE ... TEMPLATE).
TEMPLATE_DB = "hbench_template"
CUSTOMER_TABLES = ("customers_membership", "customers_identity", "customers_account", "customers_person")


# --- What a part gets and gives back ----------------------------------------------------------------
@dataclass(frozen=True)
class Options:
    """What bench/run.py passes to every part."""

    workdir: Path  # a temporary folder of this part's own, removed afterwards
    profiles: Path  # where py-spy's raw stacks are kept (var/bench/profiles)
    scale: float = 1.0  # sizes are multiplied by this (1.0 fits the whole run in 10 minutes here)
    profile_seconds: int = 8  # per profile; 0: none

    def size(self, base: int, least: int = 1) -> int:
        return max(least, round(base * self.scale))


@dataclass
class PartResult:
    """One part's figures: `values` for the ratios and result lines, `line` its own `name key=value`
    pairs (formatted), `section` its markdown for docs/benchmarks.md."""

    values: dict[str, float]
    line: list[tuple[str, str]]
    section: str
    notes: list[str] = field(default_factory=list)  # said under the summary table

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> PartResult:
        data = json.loads(text)
        data["line"] = [tuple(pair) for pair in data["line"]]
        return cls(**data)


def per_s(value: float) -> str:
    return f"{value:.0f}"


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


# --- PostgreSQL ------------------------------------------------------------------------------------
def db_url(name: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def admin_connect() -> psycopg.Connection[Any]:
    """An autocommit connection to the `postgres` maintenance database."""
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)


def db_create(name: str, template: str | None = TEMPLATE_DB) -> None:
    """Create the bench database `name` (a copy of the migrated template), dropping any left over."""
    with admin_connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}" + (f" TEMPLATE {template}" if template else ""))


def db_drop(name: str) -> None:
    with admin_connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def pg_settings(*names: str) -> dict[str, str]:
    with admin_connect() as conn:
        return {name: str((conn.execute(f"SHOW {name}").fetchone() or ("?",))[0]) for name in names}


# --- Django ----------------------------------------------------------------------------------------
MEMORY_BROKER = "memory://localhost/"  # Celery publishes stay in the process: nobody consumes them
# A developer's environment settings the bench's production settings must not inherit.
UNSET = ("HUB_EMBEDDED", "DEBUG", "EMAIL_BACKEND")


def bench_settings(*, database: str, workdir: Path) -> dict[str, str]:
    """Environment for production settings (DEBUG off) on the bench database `database`."""
    return {
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "SECRET_KEY": base64.urlsafe_b64encode(os.urandom(40)).decode(),
        "HUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HUB_HASH_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DATABASE_URL": db_url(database),
        "CELERY_BROKER_URL": MEMORY_BROKER,
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(workdir / "static"),
        "LOG_LEVEL": "WARNING",
    }


def template_migrate(workdir: Path) -> None:
    """Create and migrate the template database every part copies (once per run, in a child)."""
    db_create(TEMPLATE_DB, template=None)
    env = {k: v for k, v in os.environ.items() if k not in UNSET}
    env.update(bench_settings(database=TEMPLATE_DB, workdir=workdir))
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True
    )


def django_setup(settings: dict[str, str]) -> None:
    """Put `settings` into the environment (without the UNSET names) and set Django up."""
    for name in UNSET:
        os.environ.pop(name, None)
    os.environ.update(settings)
    # ROOT first: bench/ (sys.path[0] for the script) must not shadow anything
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def connections_close() -> None:
    """Close Django's database connections, if Django got that far."""
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()


@contextlib.contextmanager
def bench_database(name: str, options: Options, **settings: str) -> Iterator[None]:
    """The part's own database (a copy of the template) with Django set up on it, dropped afterwards."""
    db_create(name)
    (options.workdir / "static").mkdir(exist_ok=True)
    environment = bench_settings(database=name, workdir=options.workdir)
    environment.update(settings)
    try:
        django_setup(environment)
        yield
    finally:
        connections_close()
        db_drop(name)


def sql(statement: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[tuple[Any, ...]]:
    """Run one statement on Django's connection; its rows (none for statements without)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return list(cursor.fetchall()) if cursor.description else []


def events_unprocess(truncate: Sequence[str]) -> None:
    """Empty the `truncate` tables and put every inbound event back to accepted, as if never processed;
    then VACUUM ANALYZE the events and those tables."""
    sql(f"TRUNCATE {', '.join(truncate)} RESTART IDENTITY CASCADE")
    sql(
        "UPDATE integrations_inboundevent SET status = 'accepted', reason = '', attempts = 0,"
        " processed_at = NULL WHERE status <> 'accepted'"
    )
    vacuum_analyze(("integrations_inboundevent", *truncate))


def vacuum_analyze(tables: Iterable[str]) -> None:
    for table in tables:
        sql(f"VACUUM ANALYZE {table}")


# --- Calls stored as the intake stores them ---------------------------------------------------------------
def batch_read(batch: list[dict[str, Any]], *, sent: datetime, received_at: datetime) -> list[ParsedEvent]:
    """`batch` parsed as the intake parses a `/v1/batch` body sent at `sent`: its `events_read` with
    its limits (the INTAKE_MAX_* settings)."""
    from integrations.segment.handler import events_read
    from integrations.segment.views import intake_limits

    body = {"batch": batch, "sentAt": sent.isoformat()}
    return events_read(body, call_type=None, received_at=received_at, limits=intake_limits())


def calls_store(source: Any, calls: list[dict[str, Any]], per_request: int = 100) -> list[list[int]]:
    """Store the calls as the intake does (`events_read` + `inbound_events_store`), `per_request` per
    request; returns each request's new event ids (what the intake enqueues as one task)."""
    from integrations.services import inbound_events_store

    requests: list[list[int]] = []
    for start in range(0, len(calls), per_request):
        batch = calls[start : start + per_request]
        for call in batch:
            call["messageId"] = str(uuid.uuid4())
        sent = max(datetime.fromisoformat(c["timestamp"]) for c in batch) + timedelta(seconds=1)
        parsed = batch_read(batch, sent=sent, received_at=sent)
        bad = [e.reason for e in parsed if e.rejected]
        if bad:
            raise SystemExit(f"the intake rejected bench events: {bad[:3]}")
        requests.append(inbound_events_store(source=source, received_at=sent, events=parsed))
    stored = sum(len(ids) for ids in requests)
    if stored != len(calls):
        raise SystemExit(f"stored {stored} events of {len(calls)}")
    return requests


def flat(chunks: Iterable[list[int]]) -> list[int]:
    return [i for chunk in chunks for i in chunk]


WAL_SAMPLES = 8  # transactions whose WAL `wal_per_event` measures


def processing_profiled(options: Options, name: str, ids: list[int], chunk: int) -> tuple[str | None, float]:
    """`inbound_events_process(ids=...)` over `ids` in order, `chunk` per call, as one worker calls it:
    profiled by `profile_self` (its raw stacks, or None), then the median WAL bytes per event of the
    next `WAL_SAMPLES` chunks. The last `WAL_SAMPLES` chunks are kept from the profile (one that got
    through every call would leave nothing to measure)."""
    from django.db import close_old_connections

    from integrations.services import inbound_events_process

    chunks = [ids[i : i + chunk] for i in range(0, len(ids), chunk)]

    def work(running: Callable[[], bool]) -> int:
        done = 0
        for part in chunks[:-WAL_SAMPLES]:
            if not running():
                break
            inbound_events_process(ids=part)
            close_old_connections()
            done += 1
        return done

    raw, done = profile_self(options, name, work)
    pending = iter(chunks[done:])

    def one() -> list[int]:
        part = next(pending, [])
        return part if part and inbound_events_process(ids=part) else []

    return raw, wal_per_event(one)


# --- Timed processing, as one Celery worker does it -----------------------------------------------------
@dataclass
class Timing:
    """`inbound_events_process` over a list of events in chunks: time, and the queries of one chunk."""

    events: int
    seconds: float
    queries: int  # statements of one chunk from the middle of the run, claim and commit included
    statements: dict[str, int]
    tenths: list[float]  # seconds for each tenth of the chunks

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    def tenth_per_s(self, index: int) -> float:
        return self.events / len(self.tenths) / self.tenths[index] if self.tenths else 0.0

    def statement_kinds(self) -> str:
        return ", ".join(f"{k} {v}" for k, v in sorted(self.statements.items(), key=lambda kv: -kv[1]))


def chunks_process(ids: list[int], chunk: int) -> Timing:
    """Time `inbound_events_process(ids=...)` over `ids`, `chunk` per call, as a Celery worker calls it:
    after each call `close_old_connections()` (Celery's Django fixup), which reconnects once
    CONN_MAX_AGE has passed (a connection kept for ever keeps plans made on empty tables)."""
    from django.db import close_old_connections, connection
    from django.test.utils import CaptureQueriesContext

    from integrations.services import inbound_events_process

    chunks = [ids[i : i + chunk] for i in range(0, len(ids), chunk)]
    counted = len(chunks) // 2
    tenth = max(len(chunks) // 10, 1)
    captured: CaptureQueriesContext | None = None
    processed = 0
    tenths: list[float] = []
    started = mark = time.perf_counter()
    for n, part in enumerate(chunks):
        if n == counted:
            with CaptureQueriesContext(connection) as captured:
                processed += inbound_events_process(ids=part)
        else:
            processed += inbound_events_process(ids=part)
        close_old_connections()
        if (n + 1) % tenth == 0:
            clock = time.perf_counter()
            tenths.append(clock - mark)
            mark = clock
    seconds = time.perf_counter() - started
    if processed != len(ids):
        raise SystemExit(f"processed {processed} of {len(ids)} events")
    assert captured is not None
    statements = collections.Counter(
        q["sql"].lstrip().split(None, 1)[0].upper() for q in captured.captured_queries
    )
    return Timing(len(ids), seconds, len(captured), dict(statements), tenths)


# --- WAL written per transaction ------------------------------------------------------------------------
_WAL_RECORD = re.compile(r"len \(rec/tot\):\s*\d+/\s*(\d+), tx:\s*(\d+),")


def pg_bin(tool: str) -> str:
    """A PostgreSQL client tool of the server's major version (Debian keeps them off PATH)."""
    major = pg_settings("server_version_num")["server_version_num"][:-4]
    path = Path(f"/usr/lib/postgresql/{major}/bin/{tool}")
    return str(path) if path.exists() else tool


def wal_lsn() -> str:
    return str(sql("SELECT pg_current_wal_insert_lsn()")[0][0])


def wal_bytes(start: str, end: str, xid: int) -> int:
    """Bytes of WAL (records and full-page images) that transaction `xid` and its subtransactions
    (savepoints, listed in its commit record) wrote between the LSNs `start` and `end` (pg_waldump:
    exact, whatever other databases of the cluster wrote meanwhile)."""
    data_directory = pg_settings("data_directory")["data_directory"]
    dump = subprocess.run(
        [pg_bin("pg_waldump"), "-p", f"{data_directory}/pg_wal", "-s", start, "-e", end],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    ours = {xid}
    for line in dump:
        if f"tx: {xid}," in line and "COMMIT" in line and "subxacts:" in line:
            ours |= {int(x) for x in re.findall(r"\d+", line.split("subxacts:", 1)[1].split(";")[0])}
    return sum(
        int(found[1]) for line in dump if (found := _WAL_RECORD.search(line)) and int(found[2]) in ours
    )


def wal_per_event(work: Callable[[], list[int]], samples: int = WAL_SAMPLES) -> float:
    """Median WAL bytes per event over `samples` calls of `work`, which commits one transaction that
    writes event-log rows (storing or processing them) and returns their ids."""
    per_event = []
    for _ in range(samples):
        start = wal_lsn()
        ids = work()
        end = wal_lsn()
        if not ids:
            break
        xid = int(sql("SELECT xmin::text FROM integrations_inboundevent WHERE id = %s", [ids[0]])[0][0])
        per_event.append(wal_bytes(start, end, xid) / len(ids))
    return statistics.median(per_event) if per_event else 0.0


# --- Small helpers -----------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def basic_auth(write_key: str) -> str:
    """The Authorization header value Segment's libraries send for `write_key`."""
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


def redis_flush(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    client.flushdb()
    client.close()


# --- Machine context ---------------------------------------------------------------------------------
def load_average() -> float:
    """The 1-minute load average."""
    return float(Path("/proc/loadavg").read_text().split()[0])


@dataclass(frozen=True)
class CpuTimes:
    """The machine's CPU time so far (/proc/stat, all CPUs, in clock ticks)."""

    total: int
    idle: int
    steal: int

    @classmethod
    def now(cls) -> CpuTimes:
        # user nice system idle iowait irq softirq steal (guest time is counted in user already)
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        return cls(total=sum(fields), idle=fields[3] + fields[4], steal=fields[7])

    def since(self, before: CpuTimes) -> tuple[float, float]:
        """(busy %, steal %) of all CPU time between `before` and this reading."""
        total = max(self.total - before.total, 1)
        busy = total - (self.idle - before.idle)
        return 100 * busy / total, 100 * (self.steal - before.steal) / total


class LoadSampler:
    """The 1-minute load average every `every` seconds while a run goes on (a daemon thread)."""

    def __init__(self, every: float = 5.0) -> None:
        self.samples: list[float] = [load_average()]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every,), daemon=True)

    def _run(self, every: float) -> None:
        while not self._stop.wait(every):
            self.samples.append(load_average())

    def start(self) -> LoadSampler:
        self._thread.start()
        return self

    def stop(self) -> list[float]:
        self._stop.set()
        self._thread.join(timeout=10)
        self.samples.append(load_average())
        return self.samples


def git_commit() -> str:
    """HEAD's short hash, marked when the checkout has uncommitted changes."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return commit.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")


def machine() -> dict[str, str]:
    """CPUs, memory, PostgreSQL and library versions."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(line.split()[1])
        for line in Path("/proc/meminfo").read_text().splitlines()
        if line.startswith("MemTotal")
    )
    pg = pg_settings("server_version", "synchronous_commit", "fsync", "wal_buffers", "max_connections")
    return {
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.0f} GB",
        "postgresql": f"{pg['server_version']} (same machine; synchronous_commit={pg['synchronous_commit']}, "
        f"fsync={pg['fsync']}, wal_buffers={pg['wal_buffers']}, max_connections={pg['max_connections']})",
        "python": platform.python_version(),
        "django": importlib.metadata.version("django"),
        "psycopg": importlib.metadata.version("psycopg"),
        "celery": importlib.metadata.version("celery"),
        "gunicorn": importlib.metadata.version("gunicorn"),
    }


# --- py-spy ------------------------------------------------------------------------------------------
def py_spy_executable() -> str | None:
    """py-spy on PATH or next to this Python, or None when it is not installed."""
    py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
    return py_spy if Path(py_spy).exists() else None


def py_spy_record(py_spy: str, *, pid: int, seconds: int, rate: int, out: Path) -> list[str]:
    """The command line recording `pid` for `seconds` (wall clock, idle included) as raw stacks."""
    timing = ["--pid", str(pid), "--duration", str(seconds), "--rate", str(rate), "--idle"]
    return [py_spy, "record", *timing, "--format", "raw", "--output", str(out), "--nonblocking"]


def raw_stacks(raw: str) -> Iterator[tuple[list[str], int]]:
    """py-spy's raw output as (frames "func (file:line)", root first, paths shortened; sample count)."""
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = [re.sub(r"\(/[^)]*?/(site-packages|main|bench)/", "(", f) for f in stack.split(";")]
        yield frames, int(count_text)


NO_PROFILE = "_not profiled (py-spy missing, or `--profile-seconds 0`)_"


def profile_table(
    where: str, buckets: collections.Counter[str], leaves: collections.Counter[str], top: int
) -> str:
    """Markdown: the share of samples per bucket, then the `top` innermost frames."""
    total = sum(buckets.values())
    if not total:
        return "_the profile is empty_"
    lines = [f"| {where} | share of wall time |", "|---|---|"]
    for label, count in buckets.most_common():
        lines.append(f"| {label} | {100 * count / total:.0f} % |")
    lines += ["", "Top frames (self time):", ""]
    for frame, count in leaves.most_common(top):
        lines.append(f"- {100 * count / total:.1f} % `{frame}`")
    return "\n".join(lines)


def innermost_match(frames: list[str], steps: Sequence[tuple[str, str]], other: str = "other") -> str:
    """The step of the innermost frame that contains one of `steps`' needles (`other` when none does)."""
    for frame in reversed(frames):
        for needle, step in steps:
            if needle in frame:
                return step
    return other


def innermost_step(frames: list[str], steps: Sequence[tuple[str, str]], other: str = "other") -> str:
    """`innermost_match`, with ", SQL" when the sample is inside psycopg (talking to or waiting for
    PostgreSQL), else ", Python"."""
    kind = "SQL" if any("psycopg/" in f for f in frames) else "Python"
    return f"{innermost_match(frames, steps, other)}, {kind}"


def profile_summary(
    raw: str | None, label: Callable[[list[str]], str], where: str, *, top: int = 10, inside: str = ""
) -> str:
    """`profile_table` of the samples (only those with a frame containing `inside`, when given),
    bucketed by `label(frames)`; NO_PROFILE when there are no raw stacks (None)."""
    if raw is None:
        return NO_PROFILE
    buckets: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for frames, count in raw_stacks(raw):
        if inside and not any(inside in f for f in frames):
            continue
        leaves[frames[-1]] += count
        buckets[label(frames)] += count
    return profile_table(where, buckets, leaves, top)


def profile_kept(options: Options, name: str, out: Path) -> None:
    """Keep py-spy's raw stacks as var/bench/profiles/<name>.txt (for flame graphs, or a closer look)."""
    if out.exists():
        options.profiles.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, options.profiles / f"{name}.txt")


def profile_self(
    options: Options, name: str, work: Callable[[Callable[[], bool]], int], rate: int = 250
) -> tuple[str | None, int]:
    """py-spy (wall clock) on this very process for `options.profile_seconds` while `work(running)`
    runs; `work` stops when `running()` turns false and returns how much it did.

    Returns the raw stacks (None, with nothing done, when py-spy is missing or profiling is off)."""
    py_spy = py_spy_executable()
    if py_spy is None or not options.profile_seconds:
        return None, 0
    out = options.workdir / f"{name}.txt"
    command = py_spy_record(py_spy, pid=os.getpid(), seconds=options.profile_seconds, rate=rate, out=out)
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # py-spy attaches
    done = work(lambda: spy.poll() is None)
    spy.wait(timeout=120)
    profile_kept(options, name, out)
    return (out.read_text() if out.exists() else None), done


# --- docs/benchmarks.md ------------------------------------------------------------------------------
def docs_write(section: str, begin: str, end: str) -> None:
    """Replace the text between the `begin` and `end` markers with `section` (markers included)."""
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n\n"
    if begin in text and end in text:
        head, _, rest = text.partition(begin)
        _, _, tail = rest.partition(end)
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOCS.write_text(text)


def now_utc() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
