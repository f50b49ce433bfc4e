"""Part `postgres` of `make bench`: what one PostgreSQL commits per second on this machine (pgbench).

On its own database (no Django), pgbench runs transactions of the intake's shape: one INSERT of
`ROWS` JSON rows into a table with a primary key, a unique index and a secondary index, then
COMMIT; with 1 and with 8 clients, each with synchronous_commit on (the hub's setting: the commit
waits for the WAL flush) and off (for comparison only; the hub does not use it, as "200 means
stored" needs the flush). Then the same with one row per transaction: the commit (WAL flush)
ceiling. Also the WAL bytes each 100-row transaction writes. Its line:

    postgres commits_per_s_1=<n> commits_per_s_8=<n> ... rows_per_s_8=<n> one_row_commits_per_s_8=<n>

The figures bound how many intake requests (or processing chunks) per second one PostgreSQL on this
machine can commit; docs/benchmarks.md, "Scaling out", builds on them.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
from typing import Any

import psycopg
from common import Options, PartResult, db_create, db_drop, db_url, per_s, pg_bin, wal_bytes

DB_NAME = "hbench_postgres"
ROWS = 100  # one intake request
SECONDS = 4
SCHEMA = """
    CREATE TABLE event (
        id bigserial PRIMARY KEY,
        source_id int NOT NULL,
        message_id text NOT NULL,
        user_id text NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        payload jsonb NOT NULL,
        UNIQUE (source_id, message_id)
    );
    CREATE INDEX event_user ON event (source_id, user_id);
"""
# A 600-byte JSON payload per row, a unique message id per row (pgbench's client id and a random
# number); {rows} rows per transaction.
SCRIPT = """
INSERT INTO event (source_id, message_id, user_id, payload)
SELECT 1, :client_id || '-' || random() || '-' || n, 'user-' || (random() * 50000)::int,
       jsonb_build_object('type', 'track', 'event', 'Order Completed', 'n', n, 'properties',
                          jsonb_build_object('note', repeat('x', 520)))
FROM generate_series(1, {rows}) AS n;
"""


def pgbench(script: str, clients: int, synchronous: bool) -> float:
    """Transactions per second of `script` with `clients` clients for SECONDS."""
    env = dict(os.environ, PGOPTIONS=f"-c synchronous_commit={'on' if synchronous else 'off'}")
    command = [pg_bin("pgbench"), "-n", "-f", script, "-c", str(clients), "-j", str(min(clients, 2))]
    command += ["-T", str(SECONDS), "-h", "127.0.0.1", "-U", "postgres", DB_NAME]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    found = re.search(r"tps = ([\d.]+)", out)
    if found is None:
        raise SystemExit(f"pgbench printed no tps:\n{out}")
    return float(found[1])


def wal_per_transaction() -> float:
    """WAL bytes of one 100-row transaction (pg_waldump of that transaction alone), median of 5."""
    sizes = []
    with psycopg.connect(db_url(DB_NAME), autocommit=True) as conn:
        for _ in range(5):
            start = str(one(conn, "SELECT pg_current_wal_insert_lsn()"))
            with conn.transaction():
                xid = int(one(conn, "SELECT txid_current()"))
                conn.execute(SCRIPT.format(rows=ROWS).replace(":client_id", "0"))
            sizes.append(wal_bytes(start, str(one(conn, "SELECT pg_current_wal_insert_lsn()")), xid))
    return float(statistics.median(sizes))


def one(conn: psycopg.Connection[Any], query: str) -> Any:
    row = conn.execute(query).fetchone()
    assert row is not None
    return row[0]


def measure(options: Options) -> PartResult:
    db_create(DB_NAME, template=None)
    try:
        with psycopg.connect(db_url(DB_NAME), autocommit=True) as conn:
            conn.execute(SCHEMA)
        scripts = {}
        for rows in (ROWS, 1):
            scripts[rows] = options.workdir / f"insert-{rows}.sql"
            scripts[rows].write_text(SCRIPT.format(rows=rows))
        runs = {
            (ROWS, clients, synchronous): pgbench(str(scripts[ROWS]), clients, synchronous)
            for clients in (1, 8)
            for synchronous in (True, False)
        }
        runs |= {(1, clients, True): pgbench(str(scripts[1]), clients, True) for clients in (1, 8)}
        wal = wal_per_transaction()
    finally:
        db_drop(DB_NAME)
    print(f"postgres: {runs[(ROWS, 8, True)]:,.0f} commits/s of {ROWS} rows with 8 clients", flush=True)
    table = [
        f"| {rows} | {clients} | {'on' if synchronous else 'off'} | {tps:,.0f} | {tps * rows:,.0f} |"
        for (rows, clients, synchronous), tps in runs.items()
    ]
    section = "\n".join(
        [
            "### PostgreSQL alone (`postgres`)",
            "",
            f"pgbench, {SECONDS} s per run, transactions of the intake's shape: one INSERT of {ROWS} rows "
            "(600-byte JSON payload, unique message id, a user index) and COMMIT, into a table of its own "
            "(no Django, no hub code). The WAL of one such transaction (pg_waldump, median of 5, "
            f"full-page images included): {wal:,.0f} bytes, {wal / ROWS:,.0f} per row.",
            "",
            "| rows per transaction | clients | synchronous_commit | transactions/s | rows/s |",
            "|---|---|---|---|---|",
            *table,
        ]
    )
    return PartResult(
        values={"commits_per_s_8": runs[(ROWS, 8, True)], "one_row_commits_per_s_8": runs[(1, 8, True)]},
        line=[
            ("commits_per_s_1", per_s(runs[(ROWS, 1, True)])),
            ("commits_per_s_8", per_s(runs[(ROWS, 8, True)])),
            ("commits_per_s_1_async", per_s(runs[(ROWS, 1, False)])),
            ("commits_per_s_8_async", per_s(runs[(ROWS, 8, False)])),
            ("rows_per_s_8", per_s(runs[(ROWS, 8, True)] * ROWS)),
            ("rows_per_commit", str(ROWS)),
            ("one_row_commits_per_s_1", per_s(runs[(1, 1, True)])),
            ("one_row_commits_per_s_8", per_s(runs[(1, 8, True)])),
            ("wal_bytes_per_row", f"{wal / ROWS:.0f}"),
        ],
        section=section,
    )
