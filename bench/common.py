"""Setup shared by the benchmark scripts: bench databases, Django, machine context, py-spy, docs.

Imported as `common` (the scripts run as `python bench/<name>.py`, so bench/ is on sys.path).
"""

from __future__ import annotations

import base64
import collections
import contextlib
import importlib.metadata
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
DOCS = ROOT / "docs" / "benchmarks.md"


# --- PostgreSQL ------------------------------------------------------------------------------------
def db_url(name: str) -> str:
    return f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def admin_connect() -> psycopg.Connection[Any]:
    """An autocommit connection to the `postgres` maintenance database."""
    return psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True)


def db_create(name: str) -> None:
    """Create the bench database `name`, dropping any left over from an earlier run."""
    with admin_connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {name}")


def db_drop(name: str) -> None:
    with admin_connect() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


# --- Django ----------------------------------------------------------------------------------------
def bench_settings(*, database: str, workdir: Path, broker_url: str = "memory://") -> dict[str, str]:
    """Environment for production settings (DEBUG off) on the bench database `database`."""
    return {
        "DJANGO_SETTINGS_MODULE": "hub.settings",
        "SECRET_KEY": base64.urlsafe_b64encode(os.urandom(40)).decode(),
        "HUB_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "HUB_HASH_KEYS": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "DATABASE_URL": db_url(database),
        "CELERY_BROKER_URL": broker_url,
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_ROOT": str(workdir / "static"),
        "LOG_LEVEL": "WARNING",
    }


def django_setup(settings: dict[str, str], unset: Sequence[str] = ("HUB_EMBEDDED", "DEBUG")) -> None:
    """Put `settings` into the environment (without the `unset` names), set Django up and migrate."""
    for name in unset:
        os.environ.pop(name, None)
    os.environ.update(settings)
    # ROOT first: this directory (sys.path[0] for a script) must not shadow anything
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def connections_close() -> None:
    """Close Django's database connections, if Django got that far."""
    with contextlib.suppress(Exception):
        from django.db import connections

        connections.close_all()


def teardown(database: str, workdir: Path) -> None:
    """What a bench's `finally` removes: Django's connections, the database, the temporary files."""
    connections_close()
    db_drop(database)
    shutil.rmtree(workdir, ignore_errors=True)


def events_unprocess(truncate: Iterable[str]) -> None:
    """Empty the `truncate` tables and put every inbound event back to accepted, as if never processed."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(truncate)} RESTART IDENTITY CASCADE")
        cursor.execute(
            "UPDATE integrations_inboundevent SET status = 'accepted', reason = '', attempts = 0,"
            " processed_at = NULL WHERE status <> 'accepted'"
        )


def vacuum_analyze(tables: Iterable[str]) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"VACUUM ANALYZE {table}")


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


# --- Machine context ---------------------------------------------------------------------------------
def load_average() -> str:
    """The 1-minute load average."""
    return Path("/proc/loadavg").read_text().split()[0]


def git_commit(paths: Sequence[str]) -> str:
    """HEAD's short hash, marked when any of `paths` has uncommitted changes."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", *paths], cwd=ROOT, capture_output=True, text=True
    )
    return commit.stdout.strip() + (" (+ uncommitted changes)" if dirty.stdout.strip() else "")


def machine(git_paths: Sequence[str]) -> dict[str, str]:
    """Date, commit (dirty if any of `git_paths` is), CPUs, memory, PostgreSQL and library versions."""
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
    with admin_connect() as conn:
        pg = conn.execute("SHOW server_version").fetchone()
        sync = conn.execute("SHOW synchronous_commit").fetchone()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(git_paths),
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": f"{mem_kb / 1024 / 1024:.0f} GB",
        "postgresql": f"{pg[0] if pg else '?'} (same machine, synchronous_commit={sync[0] if sync else '?'})",
        "python": platform.python_version(),
        "django": importlib.metadata.version("django"),
        "psycopg": importlib.metadata.version("psycopg"),
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
        frames = [re.sub(r"\(/[^)]*?/(site-packages|main)/", "(", f) for f in stack.split(";")]
        yield frames, int(count_text)


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


# --- Profiling the event processor in this process ------------------------------------------------------
def processing_profile(
    ids: list[int],
    chunk: int,
    seconds: int,
    out: Path,
    summary: Callable[[str], str],
    between: Callable[[], None] | None = None,
) -> tuple[str, int]:
    """py-spy (250 Hz, wall clock) on this very process while `inbound_events_process` works through
    `ids` in chunks (calling `between` after each); the raw stacks go to `out`.

    Returns `summary` of the raw stacks (or a note why there are none) and the events processed."""
    from integrations.services import inbound_events_process

    py_spy = py_spy_executable()
    if py_spy is None:
        return "_py-spy not installed; no profile taken._", 0
    command = py_spy_record(py_spy, pid=os.getpid(), seconds=seconds, rate=250, out=out)
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)  # py-spy attaches
    done = 0
    for start in range(0, len(ids), chunk):
        if spy.poll() is not None:
            break
        done += inbound_events_process(ids=ids[start : start + chunk])
        if between is not None:
            between()
    spy.wait(timeout=120)
    if not out.exists():
        return "_py-spy produced no profile._", done
    return summary(out.read_text()), done


def processing_profile_table(raw: str, label: Callable[[list[str]], str], where: str, top: int) -> str:
    """`profile_table` of the samples inside `inbound_events_process`, bucketed by `label(frames)`."""
    buckets: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    for frames, count in raw_stacks(raw):
        if not any("inbound_events_process" in f for f in frames):
            continue  # the bench script's own loop between calls
        leaves[frames[-1]] += count
        buckets[label(frames)] += count
    return profile_table(where, buckets, leaves, top)
