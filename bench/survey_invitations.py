"""Part `surveys` of `make bench`: survey decisions per identify call, and emails against plain smtplib.

(Named survey_invitations.py, not surveys.py: a top-level module `surveys` next to the Django app
of that name breaks mypy ("Duplicate module named 'surveys'") and, run as a script, the app's import.)

On its own database it creates a source and two automated surveys with an identify trigger each:

- "Every new person": min delay 0 / max delay 0, no send window: every new person is eligible now;
- "Onboarding": min 3 / max 14 days after createdAt, weekdays 9:00-17:00 in the person's time zone,
  trigger condition traits.email exists: people created more than 14 days ago are refused, those
  created less than 3 days ago are scheduled for later, the rest go into the send window.

Decisions: identify calls, one per new user (email, createdAt 0-28 days ago, name, plan; context
with locale and timezone), stored with the intake's own services (untimed), then
`inbound_events_process(ids=chunk)` (customer records, then the surveys' trigger handler) in chunks
of 100, as one worker calls it; every call is considered by both surveys (counted by wrapping
`eligibility_decide`). bench/run.py divides identify calls/s by the intake's events/s.

Emails: an aiosmtpd server in a child process (accepts and discards, keeps the raw messages when
asked), `EMAIL_URL=smtp://127.0.0.1:<port>`, some invitations left due now (the others cancelled),
`invitations_dispatch_due()` in a loop until it claims nothing (SURVEY_DISPATCH_BATCH per run, one
SMTP connection per run). The ceiling: the very messages the server received (same envelope, same
bytes) sent again with plain `smtplib` over one connection to the same server. Its line:

    surveys decided_per_s=<n> invitations=<n> wal_bytes_per_event=<n> hub_emails_per_s=<n>
        smtplib_emails_per_s=<n> emails_ratio=<r>

The decision and the email runs are each profiled once more with py-spy.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import multiprocessing
import random
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

from common import (
    CUSTOMER_TABLES,
    WAL_SAMPLES,
    Options,
    PartResult,
    Timing,
    bench_database,
    calls_store,
    chunks_process,
    events_unprocess,
    flat,
    free_port,
    innermost_step,
    per_s,
    processing_profiled,
    profile_self,
    profile_summary,
    ratio,
    vacuum_analyze,
)

DB_NAME = "hbench_surveys"
CHUNK = 100
WRITTEN = ("surveys_invitation", *CUSTOMER_TABLES)  # what processing the calls writes (emptied between runs)
TABLES = ("integrations_inboundevent", *WRITTEN)

_FIRST = ["Ann", "Bo", "Chris", "Dana", "Emile", "Fatima", "Gustav", "Hana", "Ingrid", "José", "Kai", "Lena"]
_LAST = ["Lee", "Chen", "Müller", "Rossi", "O'Brien", "Nakamura", "Dubois", "Kowalski", "Silva", "Jansen"]
_LOCALES = [
    ("en-US", "America/New_York"),
    ("de-DE", "Europe/Berlin"),
    ("nl-BE", "Europe/Brussels"),
    ("fr-FR", "Europe/Paris"),
    ("ja-JP", "Asia/Tokyo"),
    ("en-GB", "Europe/London"),
]
# The delay windows' edges (days after createdAt): no createdAt is drawn within an hour of one, so a
# decision does not change while a run goes on (the backlog compares two runs minutes apart).
_EDGES = (3, 14)


# --- Identify calls ----------------------------------------------------------------------------------
def _created(rng: random.Random, now: datetime) -> datetime:
    while True:
        age = timedelta(seconds=rng.uniform(0, 28 * 86_400))
        if all(abs(age - timedelta(days=edge)) > timedelta(hours=1) for edge in _EDGES):
            return now - age


def identify_calls(users: int, now: datetime, seed: int, per_user: int = 1) -> list[dict[str, Any]]:
    """Identify calls as a signup (and later visits) send them: email, createdAt 0-28 days ago, name,
    plan. With `per_user` > 1 each user's later calls change plan and logins (never email or
    createdAt), and the calls come in random order, as several clients' requests interleave."""
    rng = random.Random(seed)
    start = now - timedelta(hours=3)
    calls = []
    for user in range(1, users + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        locale, zone = rng.choice(_LOCALES)
        created = _created(rng, now).strftime("%Y-%m-%dT%H:%M:%SZ")
        for visit in range(per_user):
            at = start + timedelta(seconds=0.1 * user + 600 * visit)
            calls.append(
                {
                    "type": "identify",
                    "userId": f"user-{user}",
                    "traits": {
                        "email": f"{first.lower()}.{user}@example.com",
                        "firstName": first,
                        "lastName": last,
                        "createdAt": created,
                        "plan": rng.choice(("free", "pro", "enterprise")),
                        "logins": visit + 1,
                        "company": {"name": f"Company {user % 2000}", "id": f"acct-{user % 2000}"},
                    },
                    "context": {
                        "ip": f"203.0.113.{rng.randrange(1, 255)}",
                        "locale": locale,
                        "timezone": zone,
                        "library": {"name": "analytics-python", "version": "2.4.0"},
                    },
                    "timestamp": at.isoformat(timespec="milliseconds"),
                    "integrations": {},
                }
            )
    if per_user > 1:
        rng.shuffle(calls)
    return calls


def surveys_create(source: Any, *, send_window: bool) -> dict[int, str]:
    """The two automated surveys; returns their rules by survey id."""
    from surveys.models import Survey, Trigger

    every = Survey.objects.create(
        name="Every new person",
        slug="every-new-person",
        automation_enabled=True,
        company_name="Example",
        min_delay_days=0,
        max_delay_days=0,
    )
    onboarding = Survey.objects.create(
        name="Onboarding",
        slug="onboarding",
        automation_enabled=True,
        company_name="Example",
        min_delay_days=3,
        max_delay_days=14,
        send_window_enabled=send_window,
    )
    Trigger.objects.create(survey=every, source=source, call_type="identify")
    Trigger.objects.create(
        survey=onboarding,
        source=source,
        call_type="identify",
        conditions=[{"path": "traits.email", "op": "exists"}],
    )
    window = ", send window" if send_window else ""
    return {every.pk: "min 0 / max 0", onboarding.pk: f"min 3 / max 14{window}"}


# --- SMTP server (child process) ---------------------------------------------------------------------
@dataclass(frozen=True)
class Mail:
    """One message as the server received it: envelope and raw bytes."""

    sender: str
    recipients: list[str]
    content: bytes


class SmtpCounter:
    """aiosmtpd handler: accepts every message, counts them and their client connections, and keeps
    the raw messages while `keep` is on."""

    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0
        self.peers: set[tuple[str, int]] = set()
        self.keep = False
        self.kept: list[Mail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or b""
        with self.lock:
            self.messages += 1
            self.bytes += len(content)
            self.peers.add(tuple(session.peer))
            if self.keep:
                self.kept.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), content))
        return "250 Message accepted for delivery"

    def answer(self, command: str) -> Any:
        with self.lock:
            if command == "keep":
                self.keep = True
            elif command == "take":
                kept, self.kept, self.keep = self.kept, [], False
                return kept
            return {"messages": self.messages, "bytes": self.bytes, "connections": len(self.peers)}


def smtp_serve(port: int, conn: Connection) -> None:
    """Runs in the child: the SMTP server until told to stop; answers "stats", "keep", "take", "stop"."""
    from aiosmtpd.controller import Controller

    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command
    counter = SmtpCounter()
    controller = Controller(counter, hostname="127.0.0.1", port=port)
    controller.start()
    conn.send("ready")
    try:
        while True:
            command = conn.recv()
            conn.send(counter.answer(command))
            if command == "stop":
                return
    finally:
        controller.stop()


@dataclass
class SmtpServer:
    port: int = 0
    process: Any = None
    conn: Connection | None = None

    def start(self) -> None:
        self.port = free_port()
        ours, theirs = multiprocessing.Pipe()
        # fork before Django and any database connection exist in this process
        self.process = multiprocessing.get_context("fork").Process(
            target=smtp_serve, args=(self.port, theirs), daemon=True
        )
        self.process.start()
        self.conn = ours
        if not ours.poll(30) or ours.recv() != "ready":
            raise RuntimeError("the SMTP server did not start")

    def ask(self, command: str) -> Any:
        assert self.conn is not None
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(Exception):
            self.ask("stop")
        self.process.join(10)
        if self.process.is_alive():
            self.process.kill()
        self.process = None


# --- Decisions -----------------------------------------------------------------------------------------
@contextlib.contextmanager
def decisions_counted(counter: collections.Counter[tuple[int, bool]]) -> Iterator[None]:
    """Count the trigger handler's eligibility_decide calls by (survey id, eligible)."""
    from surveys.services import triggers

    original: Callable[..., Any] = triggers.eligibility_decide

    def counting(**kwargs: Any) -> Any:
        decision = original(**kwargs)
        counter[(kwargs["survey"].pk, decision.eligible)] += 1
        return decision

    triggers.eligibility_decide = counting
    try:
        yield
    finally:
        triggers.eligibility_decide = original


def invitations_by_survey() -> dict[int, tuple[int, int]]:
    """survey id -> (invitations due now, due later)."""
    from django.utils import timezone

    from surveys.models import Invitation

    now = timezone.now()
    invitations: dict[int, tuple[int, int]] = {}
    for survey_id, due_at in Invitation.objects.values_list("survey_id", "due_at"):
        due_now, later = invitations.get(survey_id, (0, 0))
        invitations[survey_id] = (due_now + 1, later) if due_at <= now else (due_now, later + 1)
    return invitations


# --- Emails ------------------------------------------------------------------------------------------
@dataclass
class EmailRun:
    emails: int
    seconds: float
    runs: int
    batch: int
    connections: int
    bytes: int

    @property
    def emails_per_s(self) -> float:
        return self.emails / self.seconds


def invitations_leave_due(emails: int) -> list[int]:
    """Leave `emails` invitations due now and cancel the others; their ids."""
    from django.utils import timezone

    from surveys.models import Invitation

    due = Invitation.objects.filter(status=Invitation.Status.SCHEDULED, due_at__lte=timezone.now())
    keep = list(due.order_by("pk").values_list("pk", flat=True)[:emails])
    if len(keep) < emails:
        raise SystemExit(f"only {len(keep)} invitations are due, {emails} wanted")
    Invitation.objects.filter(status=Invitation.Status.SCHEDULED).exclude(pk__in=keep).update(
        status=Invitation.Status.CANCELLED, error="bench: not part of the email run"
    )
    vacuum_analyze(TABLES)
    return keep


def dispatch_until_done(running: Callable[[], bool] = lambda: True) -> tuple[int, int]:
    """`invitations_dispatch_due()` until it claims nothing (or `running()` turns false): (sent, runs)."""
    from surveys.services.dispatch import invitations_dispatch_due

    sent = runs = 0
    while running():
        report = invitations_dispatch_due()
        runs += 1
        sent += len(report.sent)
        if report.failed or report.released or report.cancelled:
            raise SystemExit(
                f"dispatch trouble: {len(report.failed)} failed, {len(report.released)} released, "
                f"{len(report.cancelled)} cancelled: {report.lines()[-3:]}"
            )
        if not report.claimed:
            break
    return sent, runs


def hub_dispatch(keep: list[int], smtp: SmtpServer) -> EmailRun:
    from django.conf import settings

    from surveys.models import Invitation

    before = smtp.ask("stats")
    started = time.perf_counter()
    sent, runs = dispatch_until_done()
    seconds = time.perf_counter() - started
    after = smtp.ask("stats")
    received = after["messages"] - before["messages"]
    if sent != len(keep) or received != len(keep):
        raise SystemExit(f"sent {sent}, the SMTP server received {received}, expected {len(keep)}")
    if Invitation.objects.filter(pk__in=keep).exclude(status=Invitation.Status.SENT).exists():
        raise SystemExit("invitations not marked sent")
    return EmailRun(
        emails=sent,
        seconds=seconds,
        runs=runs,
        batch=settings.SURVEY_DISPATCH_BATCH,
        connections=after["connections"] - before["connections"],
        bytes=after["bytes"] - before["bytes"],
    )


def smtplib_send(mails: list[Mail], smtp: SmtpServer) -> EmailRun:
    """The ceiling: the same messages, same envelopes and bytes, over one plain smtplib connection."""
    before = smtp.ask("stats")
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", smtp.port, timeout=30) as client:
        for mail in mails:
            client.sendmail(mail.sender, mail.recipients, mail.content)
    seconds = time.perf_counter() - started
    after = smtp.ask("stats")
    if after["messages"] - before["messages"] != len(mails):
        raise SystemExit("plain smtplib: the server did not receive every message")
    if after["bytes"] - before["bytes"] != sum(len(m.content) for m in mails):
        raise SystemExit("plain smtplib: the server did not receive the same bytes")
    return EmailRun(len(mails), seconds, 1, len(mails), 1, after["bytes"] - before["bytes"])


def invitations_reschedule(ids: list[int]) -> None:
    """The sent invitations due again (for the profile's second dispatch)."""
    from django.utils import timezone

    from surveys.models import Invitation

    Invitation.objects.filter(pk__in=ids).update(
        status=Invitation.Status.SCHEDULED, sent_at=None, claimed_at=None, attempts=0, due_at=timezone.now()
    )


# --- Profile -----------------------------------------------------------------------------------------
# Frames are "func (file:line)", root first. A stack is charged to its area (the survey handler, the
# customer records handler or the processor around them), then to the innermost step below that
# matches; SQL (any psycopg frame) and Python are told apart.
SURVEY_STEPS: list[tuple[str, str]] = [
    ("send_window_next (", "send window (zoneinfo)"),
    ("eligibility_decide (", "eligibility_decide (the rules)"),
    ("histories_load (", "survey history (invitations, suppressions)"),
    ("people_of_calls (", "loading the people again"),
    ("bulk_insert (", "INSERT of the invitations (bulk_insert)"),
    ("current (surveys", "survey policy (get_or_create)"),
    ("conditions_match (", "trigger conditions"),
]


def _label(frames: list[str]) -> str:
    sql = any("psycopg/" in f for f in frames)
    kind = "SQL" if sql else "Python"
    if any(f.startswith("surveys_process_events (") for f in frames):
        return "surveys: " + innermost_step(frames, SURVEY_STEPS, other="triggers, matching, other")
    if any(f.startswith("people_process_events (") for f in frames):
        return f"customer records, {kind}"
    if any(f.startswith("Atomic.__exit__ (") for f in frames) and sql:
        return "processor: COMMIT (WAL flush)"
    return f"processor: claim the events, mark them processed, {kind}"


# The email run: a sample is charged to the innermost step below that matches.
EMAIL_STEPS: list[tuple[str, str]] = [
    ("invitation_mark_sent_start (", "mark the previous one sent and check the claim: send the statement"),
    ("answer (surveys/services/claims", "mark and check: wait for PostgreSQL's answer"),
    ("invitation_claim_stands (", "check the claim (one primary-key query)"),
    ("render_to_string (", "render the HTML and text templates (once per survey and language)"),
    ("MessageMold.of (", "build the mold (once per survey and language)"),
    ("MessageMold.fill (", "fill the mold (headers, token)"),
    ("invitation_envelope (", "the message's links, token, Message-ID"),
    ("smtp_send (", "SMTP exchange (smtplib, in steps)"),
    ("invitations_claim (", "claim the batch"),
    ("_histories (", "re-decide: survey history"),
    ("eligibility_decide (", "re-decide: the rules"),
    ("invitations_dispatch_due (", "load the batch, other"),
]


# --- The part ----------------------------------------------------------------------------------------
@dataclass
class Decisions:
    timing: Timing
    counted: collections.Counter[tuple[int, bool]] = field(default_factory=collections.Counter)
    invitations: dict[int, tuple[int, int]] = field(default_factory=dict)  # survey -> (due now, later)

    @property
    def invitations_total(self) -> int:
        return sum(now + later for now, later in self.invitations.values())


def decide(ids: list[int]) -> Decisions:
    counted: collections.Counter[tuple[int, bool]] = collections.Counter()
    with decisions_counted(counted):
        timing = chunks_process(ids, CHUNK)
    if sum(counted.values()) != 2 * len(ids):
        raise SystemExit(f"{sum(counted.values())} decisions for {len(ids)} calls, expected two each")
    return Decisions(timing, counted, invitations_by_survey())


def measure(options: Options) -> PartResult:
    users, emails = options.size(12_000, least=2_000), options.size(1_000, least=200)
    smtp = SmtpServer()
    smtp.start()  # before Django: the child must not inherit a database connection
    try:
        mail = {"EMAIL_URL": f"smtp://127.0.0.1:{smtp.port}", "HUB_BASE_URL": "https://feedback.example.com"}
        with bench_database(DB_NAME, options, **mail):
            from django.utils import timezone

            from integrations.services import source_create

            source, _ = source_create(name="Bench", slug="bench")
            surveys = surveys_create(source, send_window=True)
            ids = flat(calls_store(source, identify_calls(users, timezone.now(), seed=3)))
            events_unprocess(WRITTEN)
            decided = decide(ids)
            print(f"surveys: {decided.timing.events_per_s:,.0f} identify calls/s decided", flush=True)

            keep = invitations_leave_due(emails)
            smtp.ask("keep")
            hub = hub_dispatch(keep, smtp)
            mails: list[Mail] = smtp.ask("take")
            plain = smtplib_send(mails, smtp)
            print(
                f"surveys: {hub.emails_per_s:,.0f} emails/s, plain smtplib {plain.emails_per_s:,.0f}",
                flush=True,
            )
            invitations_reschedule(keep)
            email_raw, _ = profile_self(
                options, "surveys-emails", lambda running: dispatch_until_done(running)[0]
            )

            events_unprocess(WRITTEN)
            decision_raw, wal = processing_profiled(options, "surveys-decisions", ids, CHUNK)
    finally:
        smtp.stop()

    timing = decided.timing
    rows = []
    for survey_id, rules in surveys.items():
        made = sum(n for (s, _), n in decided.counted.items() if s == survey_id)
        due_now, later = decided.invitations.get(survey_id, (0, 0))
        rows.append(
            f"| {rules} | {made:,} | {decided.counted[(survey_id, True)]:,} | {due_now:,} | {later:,} |"
        )
    section = "\n".join(
        [
            "### Surveys: decisions and emails (`surveys`)",
            "",
            f"{users:,} identify calls, one per new user (email, createdAt 0-28 days ago, name, plan, "
            "company; locale and timezone in the context); two automated surveys with an identify trigger "
            'each: "Every new person" (min 0 / max 0, no send window) and "Onboarding" (min 3 / max 14 days, '
            "weekdays 09:00-17:00 in the person's zone, condition traits.email exists); global cap off. "
            "One process calling `inbound_events_process(ids=chunk)` (customer records, then the trigger "
            "handler), 100 ids per call, `close_old_connections()` after each.",
            "",
            "| identify calls | seconds | calls/s | first / last tenth, calls/s | decisions | invitations | "
            "queries per chunk |",
            "|---|---|---|---|---|---|---|",
            f"| {timing.events:,} | {timing.seconds:.1f} | {timing.events_per_s:,.0f} | "
            f"{timing.tenth_per_s(0):,.0f} / {timing.tenth_per_s(-1):,.0f} | "
            f"{sum(decided.counted.values()):,} | {decided.invitations_total:,} | {timing.queries} |",
            "",
            "| survey | decisions | eligible | invitations due now | due later |",
            "|---|---|---|---|---|",
            *rows,
            "",
            f"Emails: {hub.emails:,} invitations due now (the others cancelled), "
            f"`invitations_dispatch_due()` until it claims nothing ({hub.runs} runs of up to {hub.batch}, "
            "one SMTP connection each); "
            "aiosmtpd in a child process on 127.0.0.1 accepts and discards (plain SMTP, no TLS, no auth). "
            "Each survey's HTML and text are rendered once per batch and language into a mold of the "
            "message's bytes; each message fills it (To, Date, Message-ID, List-Unsubscribe, token) and "
            "goes over smtplib in steps: one statement marks the previous row sent (without waiting for "
            "the WAL flush) and checks this message's claim while the server answers MAIL FROM and RCPT "
            "TO; DATA only once the claim stands. The ceiling sends "
            "the very messages the server received (same envelopes, same bytes) with plain "
            "`smtplib.SMTP.sendmail` over one connection.",
            "",
            "| sender | emails | seconds | emails/s | SMTP connections | mean message size |",
            "|---|---|---|---|---|---|",
            f"| hub dispatch | {hub.emails:,} | {hub.seconds:.1f} | {hub.emails_per_s:,.0f} | "
            f"{hub.connections} | {hub.bytes / hub.emails / 1024:.1f} KiB |",
            f"| plain smtplib, same messages | {plain.emails:,} | {plain.seconds:.1f} | "
            f"{plain.emails_per_s:,.0f} | 1 | {plain.bytes / plain.emails / 1024:.1f} KiB |",
            "",
            f"Where the decision run's time goes (py-spy, chunks of {CHUNK}, {options.profile_seconds} s, "
            "wall clock):",
            "",
            profile_summary(decision_raw, _label, "Where", inside="inbound_events_process ("),
            "",
            f"WAL: {wal:,.0f} bytes per identify call processed with both surveys (median of {WAL_SAMPLES} "
            f"chunks of {CHUNK} after the profile, pg_waldump, full-page images included).",
            "",
            f"Where the email run's time goes (py-spy, the same invitations sent again, "
            f"{options.profile_seconds} s at most, wall clock):",
            "",
            profile_summary(
                email_raw,
                lambda frames: innermost_step(frames, EMAIL_STEPS),
                "Where",
                inside="invitations_dispatch_due (",
            ),
        ]
    )
    return PartResult(
        values={
            "decided_per_s": timing.events_per_s,
            "wal_bytes_per_event": wal,
            "hub_emails_per_s": hub.emails_per_s,
            "smtplib_emails_per_s": plain.emails_per_s,
        },
        line=[
            ("decided_per_s", per_s(timing.events_per_s)),
            ("invitations", str(decided.invitations_total)),
            ("wal_bytes_per_event", f"{wal:.0f}"),
            ("hub_emails_per_s", per_s(hub.emails_per_s)),
            ("smtplib_emails_per_s", per_s(plain.emails_per_s)),
            ("emails_ratio", f"{ratio(hub.emails_per_s, plain.emails_per_s):.2f}"),
        ],
        section=section,
    )
