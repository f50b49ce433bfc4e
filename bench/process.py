"""Part `process` of `make bench`: the event processor (customer records) on PostgreSQL.

On its own database it stores Segment calls as accepted events with the intake's own services
(`events_read` + `inbound_events_store`; untimed), then times `inbound_events_process(ids=chunk)` in
chunks of 100 ids (one analytics-python request, one Celery task), as one worker calls it:

1. identify: identify calls with 10-19 traits each (mixed spellings and createdAt formats, a nested
   address, context with locale/timezone/library), every user twice, so half the calls create a
   person and half update one;
2. mixed: a stream of track/page/screen/identify/group/alias calls about the same users (plus
   anonymous visitors), processed on top of the records the identify phase left.

The queries of one chunk are counted; one more identify pass is profiled with py-spy. Its line:

    process identify_events_per_s=<n> mixed_events_per_s=<n> ...

and bench/run.py divides both by the intake's events/s of the same run.
"""

from __future__ import annotations

import collections
import random
import uuid
from datetime import UTC, datetime, timedelta
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
    innermost_match,
    per_s,
    processing_profiled,
    profile_summary,
)

DB_NAME = "hbench_process"
CHUNK = 100
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)

# --- Segment-like calls ----------------------------------------------------------------------------
_FIRST = ["Ann", "Bo", "Chris", "Dana", "Émile", "Fatima", "Gustav", "Hana", "Ingrid", "José", "Kai", "Lena"]
_LAST = ["Lee", "Chen", "Müller", "Rossi", "O'Brien", "Nakamura", "Dubois", "Kowalski", "Silva", "Jansen"]
_CITIES = [
    ("Berlin", "10115", "DE", "BE"),
    ("New York", "10001", "US", "NY"),
    ("Gent", "9000", "BE", "VOV"),
    ("Tokyo", "100-0001", "JP", "13"),
    ("Lyon", "69001", "FR", "ARA"),
]
_LOCALES = [
    ("en-US", "America/New_York"),
    ("de-DE", "Europe/Berlin"),
    ("nl-BE", "Europe/Brussels"),
    ("fr-FR", "Europe/Paris"),
    ("ja-JP", "Asia/Tokyo"),
    ("en_GB", "Europe/London"),
]
_LIBRARIES = [
    {"name": "analytics.js", "version": "5.2.0"},
    {"name": "analytics-python", "version": "2.4.0"},
    {"name": "analytics-node", "version": "2.1.2"},
    {"name": "analytics-ios", "version": "4.1.8"},
]
_AGENT = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15"
)
_EVENTS = ["Order Completed", "Product Viewed", "Signed Up", "Plan Upgraded", "Report Exported", "Invited"]
_PAGES = ["/", "/pricing", "/docs/getting-started", "/account/billing", "/reports/weekly", "/settings/team"]
_INDUSTRIES = ["Retail", "Software", "Healthcare", "Logistics", "Education"]


def created_at_value(rng: random.Random, at: datetime) -> Any:
    """createdAt the way real sources send it: ISO with Z, offset or millis, date only, unix s/ms."""
    when = at - timedelta(days=rng.randrange(1, 900), seconds=rng.randrange(86_400))
    return rng.choice(
        (
            lambda: when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            lambda: when.astimezone(UTC).isoformat(timespec="milliseconds"),
            lambda: when.strftime("%Y-%m-%dT%H:%M:%S+02:00"),
            lambda: when.strftime("%Y-%m-%d"),
            lambda: int(when.timestamp()),
            lambda: int(when.timestamp() * 1000),
            lambda: str(int(when.timestamp())),
        )
    )()


def user_profile(user: int) -> dict[str, Any]:
    """What stays the same across one user's calls (seeded by the user number)."""
    rng = random.Random(user)
    locale, zone = rng.choice(_LOCALES)
    return {
        "first": rng.choice(_FIRST),
        "last": rng.choice(_LAST),
        "anonymous_id": str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < 0.6 else None,
        "locale": locale,
        "timezone": zone,
        "library": rng.choice(_LIBRARIES),
        "city": rng.choice(_CITIES),
        "snake": rng.random() < 0.4,  # first_name/last_name/created_at instead of camelCase
        "account": f"acct-{rng.randrange(2000)}",
    }


def context_of(rng: random.Random, profile: dict[str, Any]) -> dict[str, Any]:
    return {
        "ip": f"203.0.113.{rng.randrange(1, 255)}",
        "locale": profile["locale"],
        "timezone": profile["timezone"],
        "library": profile["library"],
        "userAgent": _AGENT,
    }


def identify_call(rng: random.Random, user: int, at: datetime) -> dict[str, Any]:
    """An identify with 10-20 traits (some updated on every call)."""
    p = user_profile(user)
    city, postal, country, state = p["city"]
    first, last = ("first_name", "last_name") if p["snake"] else ("firstName", "lastName")
    traits: dict[str, Any] = {
        "email": f"{p['first'].lower().replace('é', 'e')}.{user}@Example.com",
        first: p["first"],
        last: p["last"],
        "created_at" if p["snake"] else "createdAt": created_at_value(rng, at),
        "address": {
            "street": f"{rng.randrange(1, 200)} Main Street",
            "city": city,
            "postal_code" if p["snake"] else "postalCode": postal,
            "country": country,
            "state": state,
        },
        "plan": rng.choice(("free", "pro", "enterprise")),
        "logins": rng.randrange(1, 500),
        "company": {"name": f"Company {user % 2000}", "id": p["account"]},
    }
    optional = [
        ("phone", f"+49 30 {rng.randrange(10**6, 10**7)}"),
        ("title", rng.choice(("CTO", "Engineer", "Product Manager", "Support Lead"))),
        ("avatar", f"https://cdn.example.com/avatars/{user}.png"),
        ("website", f"https://{p['last'].lower()}.example.org"),
        ("gender", rng.choice(("female", "male", "non-binary"))),
        ("role", rng.choice(("admin", "member", "viewer"))),
        ("newsletter", rng.random() < 0.5),
        ("ltv", round(rng.uniform(0, 5000), 2)),
        ("tags", rng.sample(["beta", "vip", "churn-risk", "nps-promoter", "trial"], 2)),
        ("lastOrderAt", (at - timedelta(days=rng.randrange(60))).isoformat()),
        ("seats", rng.randrange(1, 50)),
        ("industry", rng.choice(_INDUSTRIES)),
        ("description", "Signed up through the spring campaign"),
        ("name", f"{p['first']} {p['last']}"),
    ]
    for key, value in rng.sample(optional, rng.randrange(2, 12)):  # 10-19 traits in all
        traits[key] = value
    call: dict[str, Any] = {"type": "identify", "userId": f"user-{user}", "traits": traits}
    if p["anonymous_id"]:
        call["anonymousId"] = p["anonymous_id"]
    call["context"] = context_of(rng, p)
    call["timestamp"] = at.isoformat(timespec="milliseconds")
    call["integrations"] = {}
    return call


def mixed_call(rng: random.Random, users: int, at: datetime, anonymous_ids: list[str]) -> dict[str, Any]:
    """One call of a product's stream: mostly track/page, some identify, group, screen, a few alias."""
    kind = rng.choices(
        ("track", "page", "screen", "identify", "group", "alias"), weights=(50, 26, 6, 12, 5.7, 0.3)
    )[0]
    user = rng.randrange(1, users + 1)
    if kind == "identify":
        return identify_call(rng, user, at)
    p = user_profile(user)
    call: dict[str, Any] = {"type": kind, "userId": f"user-{user}"}
    if kind in ("track", "page") and rng.random() < 0.15:  # a visitor not known yet
        del call["userId"]
        anonymous_id = str(uuid.UUID(int=rng.getrandbits(128)))
        anonymous_ids.append(anonymous_id)
        call["anonymousId"] = anonymous_id
    elif p["anonymous_id"]:
        call["anonymousId"] = p["anonymous_id"]
    if kind == "track":
        call["event"] = rng.choice(_EVENTS)
        props: dict[str, Any] = {"revenue": round(rng.uniform(5, 500), 2), "currency": "EUR"}
        if rng.random() < 0.3:
            props["products"] = [{"sku": f"SKU-{rng.randrange(10**5)}", "price": 9.5, "quantity": 1}]
        if rng.random() < 0.03:
            props["account_id"] = p["account"]  # CustomerSuccessBox style
        call["properties"] = props
    elif kind in ("page", "screen"):
        path = rng.choice(_PAGES)
        call["name"] = path.strip("/") or "Home"
        call["properties"] = {"path": path, "url": f"https://app.example.com{path}", "referrer": ""}
    elif kind == "group":
        account = p["account"]
        seed = random.Random(account)
        call["groupId"] = account
        call["traits"] = {
            "name": f"Company {account[5:]}",
            "industry": seed.choice(_INDUSTRIES),
            "employees": seed.randrange(5, 5000),
            "plan": rng.choice(("free", "pro", "enterprise")),
            "created_at": created_at_value(seed, EPOCH),
        }
    elif kind == "alias":  # a visitor signs up: their anonymous id becomes this user's
        previous = anonymous_ids.pop(rng.randrange(len(anonymous_ids))) if anonymous_ids else f"old-{user}"
        call = {"type": "alias", "previousId": previous, "userId": f"user-{user}"}
    call["context"] = context_of(rng, p)
    call["timestamp"] = at.isoformat(timespec="milliseconds")
    return call


def identify_stream(events: int, users: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    order = [1 + i % users for i in range(events)]  # every user events/users times
    rng.shuffle(order)
    return [identify_call(rng, user, EPOCH + timedelta(seconds=2 * i)) for i, user in enumerate(order)]


def mixed_stream(events: int, users: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    start = EPOCH + timedelta(days=30)  # after the identify phase
    anonymous_ids: list[str] = []
    return [mixed_call(rng, users, start + timedelta(seconds=i), anonymous_ids) for i in range(events)]


# --- Profile -----------------------------------------------------------------------------------------
# Frames are "func (file:line)", root first. A sample inside psycopg (sending, waiting, reading) is a
# statement's time, charged to the step that issued it; any other sample to the innermost step below.
SQL_STEPS: list[tuple[str, str]] = [
    ("Atomic.__exit__", "SQL: COMMIT (WAL flush)"),
    ("load (customers", "SQL: load people, identities, suppressions, accounts"),
    ("flush (customers", "SQL: write back people, identities, accounts, memberships"),
    ("bulk_update (django", "SQL: mark the events processed (bulk_update)"),
    ("inbound_events_process", "SQL: claim the events (SELECT ... FOR UPDATE SKIP LOCKED)"),
]
CPU_STEPS: list[tuple[str, str]] = [
    ("validate_email", "Python: email validation (Django's EmailValidator)"),
    ("parse_datetime", "Python: createdAt parsing"),
    ("customers/traits.py", "Python: trait rules (normalise, merge, typed columns)"),
    ("from_db_value", "Python: ORM loading rows (JSON decode, model init)"),
    ("bulk_create (django", "Python: ORM building bulk_create"),
    ("load (customers", "Python: ORM loading people, identities, accounts"),
    ("apply (customers", "Python: applying calls (resolve person, accounts, notes)"),
    ("flush (customers", "Python: ORM write back"),
    ("inbound_events_process", "Python: claim, ORM loading the events, ordering"),
]


def _label(frames: list[str]) -> str:
    if any("psycopg/" in f for f in frames):
        joined = ";".join(frames)
        return next((label for needle, label in SQL_STEPS if needle in joined), "SQL: other")
    if any("bulk_update (django" in f for f in frames):
        which = "people/accounts" if any("flush (customers" in f for f in frames) else "events"
        return f"Python: ORM building bulk_update of the {which} (CASE WHEN per row and field)"
    return innermost_match(frames, CPU_STEPS)


def check_identify(users: int) -> None:
    from customers.models import Person
    from integrations.models import InboundEvent

    people = Person.objects.count()
    if people != users:
        raise SystemExit(f"identify phase left {people} people, expected {users}")
    if InboundEvent.objects.exclude(status__in=["processed", "accepted"]).exists():
        raise SystemExit("some events failed")
    if Person.objects.filter(email="").exists():
        raise SystemExit("people without an email")


def measure(options: Options) -> PartResult:
    events, mixed_events = options.size(15_000, least=2_000), options.size(15_000, least=2_000)
    users = events // 2
    with bench_database(DB_NAME, options):
        from integrations.services import source_create

        source, _ = source_create(name="Bench", slug="bench")
        identify_ids = flat(calls_store(source, identify_stream(events, users, seed=1)))
        mixed_calls = mixed_stream(mixed_events, users, seed=2)
        mix_counts = collections.Counter(c["type"] for c in mixed_calls)
        mixed_ids = flat(calls_store(source, mixed_calls))
        del mixed_calls
        events_unprocess(CUSTOMER_TABLES)
        timings: dict[str, Timing] = {}
        for phase, ids in (("identify", identify_ids), ("mixed", mixed_ids)):
            timings[phase] = timing = chunks_process(ids, CHUNK)
            print(f"process, {phase}: {timing.events_per_s:,.0f} events/s", flush=True)
            if phase == "identify":
                check_identify(users)
        events_unprocess(CUSTOMER_TABLES)

        raw, wal = processing_profiled(options, "process-identify", identify_ids, CHUNK)
    mix = ", ".join(f"{kind} {100 * n / mixed_events:.1f} %" for kind, n in mix_counts.most_common())
    identify, mixed = timings["identify"], timings["mixed"]
    rows = [
        f"| {phase} | {t.events:,} | {t.seconds:.1f} | {t.events_per_s:,.0f} | "
        f"{t.tenth_per_s(0):,.0f} / {t.tenth_per_s(-1):,.0f} | {t.queries} | {t.statement_kinds()} |"
        for phase, t in timings.items()
    ]
    section = "\n".join(
        [
            "### Processor: customer records (`process`)",
            "",
            "One process calling `inbound_events_process(ids=chunk)` with 100 ids per call, "
            "`close_old_connections()` after each (what one Celery worker does).",
            f"identify: {events:,} identify calls for {users:,} users (each twice: half create a person, "
            "half update one), 10-19 traits each (camelCase or snake_case, createdAt as ISO/date/unix "
            "s/unix ms/numeric string, nested address, company), context with locale, timezone, library; "
            f"60 % of users also send an anonymousId. mixed: {mixed_events:,} calls about the same users "
            f"on top of the identify phase's records: {mix}; 15 % of track/page calls come from visitors "
            "known only by an anonymousId. Queries: every statement of one chunk from the middle of the "
            "run, claim and commit included.",
            "",
            "| phase | events | seconds | events/s | first / last tenth, events/s | queries per chunk | "
            "statements |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
            f"Where the identify phase's time goes (py-spy, chunks of {CHUNK}, {options.profile_seconds} s, "
            "wall clock):",
            "",
            profile_summary(
                raw,
                _label,
                "Where (SQL: by the step that issued it)",
                top=12,
                inside="inbound_events_process (",
            ),
            "",
            f"WAL: {wal:,.0f} bytes per identify call processed (median of {WAL_SAMPLES} chunks of {CHUNK} "
            "after the profile, pg_waldump of each chunk's transaction and savepoints, full-page images "
            "included).",
        ]
    )
    return PartResult(
        values={
            "identify_events_per_s": identify.events_per_s,
            "mixed_events_per_s": mixed.events_per_s,
            "wal_bytes_per_event": wal,
        },
        line=[
            ("identify_events_per_s", per_s(identify.events_per_s)),
            ("mixed_events_per_s", per_s(mixed.events_per_s)),
            (f"queries_per_{CHUNK}", str(identify.queries)),
            ("wal_bytes_per_event", f"{wal:.0f}"),
        ],
        section=section,
    )
