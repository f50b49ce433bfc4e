"""Several workers on one source's backlog (PostgreSQL): each claims its own events, and the outcome is
the one a single worker reaches: the same people, traits and invitations."""

import logging
import queue
import time
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Identity, Person, person_delete_allowed
from customers.services.people import person_alias
from integrations import services
from integrations.models import InboundEvent, Source
from integrations.services import inbound_events_process, inbound_events_process_waiting
from surveys.models import Invitation, Trigger
from tests.conftest import service_missing
from tests.integrations.events import identify_store
from tests.surveys.factories import survey_make
from tests.threads import Worker, in_threads

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql() -> None:
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (row locks with SKIP LOCKED across connections)")


def identify_numbered(source: Source, user_id: str, number: int, **traits: Any) -> int:
    """An accepted identify call at the `number`th second of the hour before now, messageId
    `<userId>-<number>`."""
    at = timezone.now() - timedelta(hours=1) + timedelta(seconds=number)
    return identify_store(source, user_id, at, message_id=f"{user_id}-{number}", **traits)


def lock_waiters() -> int:
    """Connections of this database waiting for a lock (pg_stat_activity, not the transaction's snapshot)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def waiters_reach(count: int, worker: Worker) -> None:
    """Wait until `count` connections wait for a lock, the last of them `worker`'s."""
    deadline = time.monotonic() + 30
    while lock_waiters() < count:
        assert worker.is_alive(), "the worker finished without waiting for a lock"
        assert time.monotonic() < deadline, "the worker never waited for a lock"
        time.sleep(0.05)


def test_a_second_worker_claims_the_same_sources_events_while_the_first_is_busy() -> None:
    source = Source.objects.create(name="Shop", slug="shop")
    busy = Person.objects.create(source=source, user_id="busy", email="busy@example.com")
    first_ids = [identify_numbered(source, "busy", 1, plan="pro")]
    second_ids = [identify_numbered(source, f"other-{n}", n, plan="free") for n in range(5)]
    first = Worker(lambda: inbound_events_process(ids=first_ids))
    second = Worker(lambda: inbound_events_process(ids=second_ids))

    with transaction.atomic():
        # The first worker claims its event, then waits for this lock on the person it is about.
        Person.objects.select_for_update().get(pk=busy.pk)
        first.start()
        waiters_reach(1, first)
        second.start()
        processed_by_second = second.outcome()

    assert processed_by_second == 5, "the second worker skipped events no other worker held"
    assert first.outcome() == 1
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert Person.objects.count() == 6


def test_two_workers_creating_the_same_people_in_opposite_orders_do_not_deadlock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = Source.objects.create(name="Shop", slug="shop")
    first_ids = [identify_numbered(source, user, n, plan="pro") for n, user in enumerate(["u1", "u2", "u3"])]
    second_ids = [identify_numbered(source, user, n, plan="free") for n, user in enumerate(["u3", "u1"])]
    first = Worker(lambda: inbound_events_process(ids=first_ids))
    second = Worker(lambda: inbound_events_process(ids=second_ids))
    caplog.set_level(logging.INFO, logger="integrations.services")

    with transaction.atomic():
        # Someone else is creating u2: the first worker creates u1, then waits for u2's fate ...
        Person.objects.create(source=source, user_id="u2")
        first.start()
        waiters_reach(1, first)
        # ... while the second worker, which would create u3 and u1, meets the first one's u1.
        second.start()
        waiters_reach(2, second)
        transaction.set_rollback(True)

    assert (first.outcome(), second.outcome()) == (3, 2)
    assert "deadlock" not in caplog.text
    assert "processing them one by one" not in caplog.text
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert set(Person.objects.values_list("user_id", flat=True)) == {"u1", "u2", "u3"}


def test_a_person_another_writer_created_meanwhile_is_updated_in_the_same_batch(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An alias call (person_alias, which takes no person lock) creates u2 while a worker applies a
    batch that creates u1, u2 and u3: the worker's insert meets u2, and the run is applied again over
    the records as they are now, in the same batch (not one event at a time), each note said once."""
    source = Source.objects.create(name="Shop", slug="shop")
    ids = [
        identify_numbered(source, user, n, plan="pro", email="not an email")
        for n, user in enumerate(["u1", "u2", "u3"])
    ]
    worker = Worker(lambda: inbound_events_process(ids=ids))
    caplog.set_level(logging.INFO, logger="integrations.services")

    with transaction.atomic():
        person_alias(source_id=source.pk, previous_id="visitor-2", user_id="u2")
        worker.start()
        waiters_reach(1, worker)  # its insert of u2 waits for this transaction

    assert worker.outcome() == 3
    assert "processing them one by one" not in caplog.text
    assert list(InboundEvent.objects.values_list("status", "reason").distinct()) == [
        ("processed", "email not valid: 'not an email'")
    ]
    assert sorted(Person.objects.values_list("user_id", "traits__plan")) == [
        ("u1", "pro"),
        ("u2", "pro"),
        ("u3", "pro"),
    ]
    assert Identity.objects.get(value="visitor-2").person.user_id == "u2"


# --- the same backlog, one worker or two --------------------------------------------------------------

USERS = 30
CALLS = 6  # per user: every call changes `plan` and `logins` and adds a trait of its own


def backlog_store(source: Source) -> list[list[int]]:
    """Chunks as the intake enqueues them: chunk k holds call `order[k]` of every user, so neighbouring
    chunks (which two workers take at once) create or update the same people, in opposite orders (the
    time order of the calls alternates), and later calls of a person are often processed first."""
    order = [1, 0, 3, 2, 5, 4]
    created = (timezone.now() - timedelta(days=5)).isoformat()
    chunks = []
    for call in order:
        chunks.append(
            [
                identify_numbered(
                    source,
                    f"user-{user}",
                    call * USERS + (user if call % 2 else USERS - 1 - user),
                    email=f"user-{user}@example.com",
                    createdAt=created,
                    plan=f"plan-{call}",
                    logins=call,
                    **{f"step_{call}": True},
                )
                for user in range(USERS)
            ]
        )
    return chunks


def outcome_dump(started: Any) -> dict[str, Any]:
    """People (traits and typed columns), identities and invitations, without ids or processing times."""
    people = {
        p.user_id: (p.email, p.traits, p.trait_times, p.created_at, p.last_seen_at, p.language, p.timezone)
        for p in Person.objects.all()
    }
    identities = sorted(Identity.objects.values_list("person__user_id", "kind", "value"))
    invitations = sorted(
        (
            i.survey.slug,
            i.person.user_id if i.person else None,
            i.status,
            "now" if i.due_at >= started else i.due_at,
        )
        for i in Invitation.objects.select_related("survey", "person")
    )
    return {"people": people, "identities": identities, "invitations": invitations}


def workers_drain(
    chunks: Sequence[list[int]], workers: int, process: Callable[..., int] = inbound_events_process
) -> list[int]:
    """`workers` threads take chunks from one queue, as Celery workers take tasks; events each processed."""
    tasks: queue.Queue[list[int]] = queue.Queue()
    for chunk in chunks:
        tasks.put(chunk)

    def worker() -> int:
        done = 0
        while True:
            try:
                chunk = tasks.get_nowait()
            except queue.Empty:
                return done
            done += process(ids=chunk)

    return in_threads(*([worker] * workers))


def unprocess() -> None:
    Invitation.objects.all().delete()
    with person_delete_allowed():  # back to before processing, not an erasure
        Person.objects.all().delete()
    InboundEvent.objects.update(status="accepted", reason="", attempts=0, processed_at=None)


@pytest.mark.parametrize(
    "process",
    [inbound_events_process, inbound_events_process_waiting],
    ids=["own events", "then the source's waiting ones"],
)
def test_two_workers_on_one_backlog_leave_the_same_people_traits_and_invitations_as_one(
    process: Callable[..., int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "WAITING_CHUNK", 10)  # several chunks each, while the other works
    source = Source.objects.create(name="Shop", slug="shop")
    every = survey_make(name="Every new person", slug="every", min_delay_days=0, max_delay_days=0)
    onboarding = survey_make(name="Onboarding", slug="onboarding", min_delay_days=3, max_delay_days=14)
    Trigger.objects.create(survey=every, source=source, call_type="identify")
    Trigger.objects.create(
        survey=onboarding,
        source=source,
        call_type="identify",
        conditions=[{"path": "traits.plan", "op": "exists"}],
    )
    chunks = backlog_store(source)

    started = timezone.now()
    assert workers_drain(chunks, workers=1, process=process) == [USERS * CALLS]
    alone = outcome_dump(started)
    unprocess()
    started = timezone.now()
    together = workers_drain(chunks, workers=2, process=process)
    assert sum(together) == USERS * CALLS
    assert min(together) > 0, "both workers must have processed events, or the test proves nothing"

    # Each event processed once, by one of the two.
    assert set(InboundEvent.objects.values_list("status", "attempts")) == {("processed", 1)}
    assert outcome_dump(started) == alone
    assert len(alone["people"]) == USERS
    assert all(
        len([k for k in traits if k.startswith("step_")]) == CALLS
        for _, traits, *_ in alone["people"].values()
    )
    assert len(alone["invitations"]) == 2 * USERS
