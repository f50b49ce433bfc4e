"""Part `syncback` of `make bench`: the daily NPS sync-back to Segment, against a local stand-in.

On its own database it creates a source with people, each with one answered survey (ratings 0-10, a comment on
about a third of them, 20-400 characters; untimed, bulk inserts), starts a minimal threaded HTTP
server in this process that counts requests and bytes and answers `200 {"success": true}` like
Segment, points a `segment` destination at it and times one `sync_back_run` (reading the answers,
building the batches, one Delivery per batch through the delivery engine, the HTTP calls, the
cursor). A second run is timed too: it must send nothing. Its line:

    syncback responses=<n> requests=<n> bytes=<n> seconds=<n>
"""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from common import Options, PartResult, basic_auth, bench_database, sql

DB_NAME = "hbench_syncback"
WRITE_KEY = "wk_bench_syncback_0123456789"


class SegmentStandIn(ThreadingHTTPServer):
    """Counts POST /v1/batch requests and body bytes; answers 200 {"success": true}."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests = 0
        self.bytes = 0
        self.events = 0
        self.max_body = 0
        self.bad_auth = 0


class _Handler(BaseHTTPRequestHandler):
    server: SegmentStandIn
    protocol_version = "HTTP/1.1"
    expected_auth = basic_auth(WRITE_KEY)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with self.server.lock:
            self.server.requests += 1
            self.server.bytes += len(body)
            self.server.events += body.count(b'"type":"identify"')
            self.server.max_body = max(self.server.max_body, len(body))
            self.server.bad_auth += self.headers.get("Authorization") != self.expected_auth
        answer = b'{"success":true}'
        self.send_response(200 if self.path == "/v1/batch" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def answers_create(count: int) -> Any:
    """A source with `count` people, each with one answered invitation, answered over the past 2 days."""
    from django.db.models import F

    from customers.models import Person
    from integrations.services import source_create
    from surveys.models import Invitation, Response, Survey

    rng = random.Random(20261126)
    source, _ = source_create(name="Bench", slug="bench")
    survey = Survey.objects.create(name="Bench NPS", slug="bench-nps")
    start = datetime.now(UTC) - timedelta(days=2)
    words = [
        "fast",
        "friendly",
        "support",
        "price",
        "docs",
        "onboarding",
        "slow",
        "bug",
        "great",
        "missing",
        "feature",
    ]
    step = 5_000
    for offset in range(0, count, step):
        n = min(step, count - offset)
        people = Person.objects.bulk_create(
            [
                Person(source=source, user_id=f"user-{offset + i}", email=f"u{offset + i}@example.com")
                for i in range(n)
            ]
        )
        invitations = Invitation.objects.bulk_create(
            [
                Invitation(survey=survey, person=p, due_at=start, status=Invitation.Status.RESPONDED)
                for p in people
            ]
        )
        Response.objects.bulk_create(
            [
                Response(
                    invitation=invitation,
                    survey=survey,
                    person=invitation.person,
                    rating=rng.randrange(11),
                    comment=" ".join(rng.choices(words, k=rng.randrange(3, 60)))[:400]
                    if rng.random() < 0.33
                    else "",
                    answered_at=start + timedelta(seconds=(offset + i) * 1.5),
                )
                for i, invitation in enumerate(invitations)
            ]
        )
    Response.objects.update(updated_at=F("answered_at"))
    # A live database has planner statistics (autovacuum); a freshly bulk-loaded one does not, and
    # without them PostgreSQL picks a quadratic plan for the cursor query.
    sql("ANALYZE")
    return source


def measure(options: Options) -> PartResult:
    responses = options.size(20_000, least=2_000)
    server = SegmentStandIn()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # the stand-in listens on loopback, which the hub refuses to call unless allowed (egress guard)
        with bench_database(DB_NAME, options, HUB_OUTBOUND_ALLOWED_NETWORKS="127.0.0.1/32"):
            from integrations.models import Delivery, Destination
            from surveys.services.sync_back import sync_back_run

            source = answers_create(responses)
            destination = Destination(
                source=source,
                kind="segment",
                name="Bench Segment",
                settings={"api_host": f"http://127.0.0.1:{server.server_address[1]}"},
                timeout_seconds=30,
            )
            destination.secrets_update({"write_key": WRITE_KEY})
            destination.save()

            started = time.perf_counter()
            report = sync_back_run(destination=destination)
            seconds = time.perf_counter() - started
            if report.status != "done" or report.people != responses or server.bad_auth:
                raise SystemExit(f"the sync-back did not send everything: {report.summary()}")
            if server.events != responses or Delivery.objects.exclude(status="delivered").exists():
                raise SystemExit(f"the server counted {server.events} identify calls, not {responses}")
            sent = server.requests
            started = time.perf_counter()
            rerun = sync_back_run(destination=destination)
            rerun_seconds = time.perf_counter() - started
            if server.requests != sent or rerun.requests:
                raise SystemExit("the rerun sent again what was delivered")
    finally:
        server.shutdown()
    print(f"syncback: {responses / seconds:,.0f} responses/s", flush=True)
    section = "\n".join(
        [
            "### Sync-back to Segment (`syncback`)",
            "",
            f"{responses:,} responses, one per person, synced in one `sync_back_run` to a threaded local "
            "server answering 200 (same machine, so the network costs almost nothing).",
            "",
            "| responses | requests | bytes | largest body | seconds | responses/s | rerun (nothing new) |",
            "|---|---|---|---|---|---|---|",
            f"| {responses:,} | {server.requests:,} | {server.bytes:,} | {server.max_body:,} | "
            f"{seconds:.1f} | {responses / seconds:,.0f} | {rerun_seconds:.2f} s, "
            f"{rerun.requests} requests |",
        ]
    )
    return PartResult(
        values={"responses_per_s": responses / seconds},
        line=[
            ("responses", str(responses)),
            ("requests", str(server.requests)),
            ("bytes", str(server.bytes)),
            ("seconds", f"{seconds:.1f}"),
        ],
        section=section,
    )
