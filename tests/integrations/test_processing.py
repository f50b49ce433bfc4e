"""After the 200: events go from accepted to processed, by a real worker or by the sweeper."""

import base64
import json
import subprocess
import time
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
import requests
from celery import Celery
from django.conf import settings
from django.db import connection
from django.http.response import HttpResponseBase
from django.test import Client
from django.utils import timezone

from integrations import services, tasks
from integrations.models import InboundEvent, Source
from tests.conftest import service_missing
from tests.integrations.events import identify_store


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def batch(*user_ids: str) -> dict[str, Any]:
    return {"batch": [{"type": "identify", "userId": u, "traits": {"plan": "pro"}} for u in user_ids]}


def post_batch(client: Client, write_key: str, *user_ids: str) -> HttpResponseBase:
    """An identify call per user id, in one batch to the intake (Django's test client)."""
    return client.post(
        "/v1/batch",
        json.dumps(batch(*user_ids)),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(write_key)["Authorization"],
    )


@pytest.mark.worker
def test_a_real_worker_processes_accepted_events(
    celery_worker: subprocess.Popen[bytes], live_server: Any, source: Source, write_key: str
) -> None:
    response = requests.post(
        f"{live_server.url}/v1/batch", json=batch("w1", "w2", "w3"), headers=basic(write_key), timeout=10
    )
    assert response.status_code == 200

    deadline = time.monotonic() + 30
    while InboundEvent.objects.filter(status=InboundEvent.Status.PROCESSED).count() < 3:
        assert time.monotonic() < deadline, list(InboundEvent.objects.values_list("user_id", "status"))
        time.sleep(0.2)
    assert all(e.processed_at and e.attempts == 1 for e in InboundEvent.objects.all())


def other_connections() -> list[tuple[int, Any]]:
    """(pid, backend start) of the connections to this database other than the test's own."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT pid, backend_start FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return list(cursor.fetchall())


@pytest.mark.worker
def test_a_real_worker_keeps_its_database_connection_from_one_task_to_the_next(
    celery_worker: subprocess.Popen[bytes], client: Client, write_key: str
) -> None:
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (pg_stat_activity)")

    def post_and_wait(*users: str, processed: int) -> None:
        response = post_batch(client, write_key, *users)
        assert response.status_code == 200
        deadline = time.monotonic() + 30
        while InboundEvent.objects.filter(status=InboundEvent.Status.PROCESSED).count() < processed:
            assert time.monotonic() < deadline, list(InboundEvent.objects.values_list("user_id", "status"))
            time.sleep(0.1)

    post_and_wait("c1", "c2", processed=2)
    second_posted = timezone.now()
    post_and_wait("c3", processed=3)
    time.sleep(1)  # the task has returned: Celery's fixup closed every connection here, before

    # The one the first task opened: a task reconnects only when CONN_MAX_AGE has passed.
    kept = other_connections()
    assert len(kept) == 1, kept
    assert kept[0][1] < second_posted


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The processing task publishes to a broker nobody listens on (port 1), with the hub's own
    publish settings (connection timeout, retry policy)."""
    dead = Celery("broker-down", set_as_current=False)
    dead.conf.update(
        broker_url="redis://127.0.0.1:1/0",
        broker_connection_timeout=settings.CELERY_BROKER_CONNECTION_TIMEOUT,
        task_publish_retry_policy=settings.CELERY_TASK_PUBLISH_RETRY_POLICY,
    )
    task = dead.task(name="integrations.process_inbound_events")(tasks.process_inbound_events.run)
    monkeypatch.setattr(tasks, "process_inbound_events", task)
    yield
    dead.close()


@pytest.mark.django_db
def test_a_broker_outage_loses_nothing_and_the_sweeper_processes_later(
    client: Client, write_key: str, broker_down: None, django_capture_on_commit_callbacks: Any
) -> None:
    started = time.monotonic()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_batch(client, write_key, "b1", "b2")

    assert response.status_code == 200
    assert time.monotonic() - started < 10, "a dead broker must not hold the client"
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"accepted"}

    # Not yet old enough for the sweeper: a worker might still be about to take them.
    assert services.inbound_events_sweep() == 0
    assert services.inbound_events_sweep(older_than=timedelta(0)) == 2
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}


def explode_on_bad(events: Sequence[InboundEvent]) -> None:
    """A pipeline handler that fails a batch holding a call about "bad"."""
    if any(event.user_id == "bad" for event in events):
        raise ValueError("trait plan is not a string")


def explode_naming_the_person(events: Sequence[InboundEvent]) -> None:
    """A pipeline handler failing as a database error does: its message quotes the row's values."""
    if any(event.user_id == "bad" for event in events):
        raise ValueError('duplicate key value: Key (email)=(ann@example.com) for "Ann Smith"')


@pytest.mark.django_db
def test_a_failed_events_reason_names_no_one(
    client: Client, write_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "event_handlers", lambda: [explode_naming_the_person])
    post_batch(client, write_key, "good", "bad")

    services.inbound_events_process(ids=list(InboundEvent.objects.values_list("pk", flat=True)))

    bad = InboundEvent.objects.get(user_id="bad")
    assert bad.status == InboundEvent.Status.FAILED
    assert bad.reason.startswith("ValueError: duplicate key value")
    assert "ann@example.com" not in bad.reason
    assert "Ann Smith" not in bad.reason


@pytest.mark.django_db
def test_a_failing_event_is_marked_failed_with_its_error_and_siblings_are_processed(
    client: Client, write_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "event_handlers", lambda: [explode_on_bad])
    post_batch(client, write_key, "good", "bad")
    ids = list(InboundEvent.objects.values_list("pk", flat=True))

    assert services.inbound_events_process(ids=ids) == 1

    bad = InboundEvent.objects.get(user_id="bad")
    assert bad.status == InboundEvent.Status.FAILED
    assert bad.reason == "ValueError: trait plan is not a string"
    assert InboundEvent.objects.get(user_id="good").status == InboundEvent.Status.PROCESSED

    # Once the cause is fixed, "reprocess" (the admin action) finishes it.
    monkeypatch.setattr(services, "event_handlers", lambda: [])
    assert services.inbound_events_reprocess(ids=[bad.pk]) == 1
    bad.refresh_from_db()
    assert (bad.status, bad.reason, bad.attempts) == ("processed", "", 2)


@pytest.mark.django_db
def test_a_processing_task_goes_on_with_the_events_waiting_in_its_source_oldest_first(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = timezone.now()
    own = [identify_store(source, "own", now)]
    waiting = [identify_store(source, f"w{n}", now - timedelta(minutes=10 - n)) for n in range(5)]
    elsewhere = identify_store(Source.objects.create(name="Other", slug="other"), "elsewhere", now)
    # A collector's add-contact call: its own task runs the pipeline on it, then decides.
    pending = identify_store(source, "contact", now - timedelta(hours=1), status=InboundEvent.Status.PENDING)
    batches: list[list[str]] = []
    monkeypatch.setattr(
        services, "event_handlers", lambda: [lambda *, events: batches.append([e.user_id for e in events])]
    )
    monkeypatch.setattr(services, "WAITING_CHUNK", 2)

    assert tasks.process_inbound_events(own) == 6

    assert batches == [["own"], ["w0", "w1"], ["w2", "w3"], ["w4"]]
    events = {e.pk: e for e in InboundEvent.objects.all()}
    assert all(events[pk].status == "processed" and events[pk].attempts == 1 for pk in [*own, *waiting])
    assert (events[elsewhere].status, events[elsewhere].attempts) == ("accepted", 0)
    assert (events[pending].status, events[pending].attempts, events[pending].processed_at) == (
        "pending",
        0,
        None,
    )
    # The tasks of the requests whose events were taken find nothing left.
    assert tasks.process_inbound_events(waiting[:2]) == 0
    assert batches[4:] == []


@pytest.mark.django_db
def test_a_processing_task_goes_on_only_within_its_time_bound(
    source: Source, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.INTAKE_PROCESS_WAITING_SECONDS = 0
    monkeypatch.setattr(services, "event_handlers", lambda: [])
    now = timezone.now()
    own = [identify_store(source, "own", now)]
    waiting = identify_store(source, "waiting", now - timedelta(minutes=1))

    assert tasks.process_inbound_events(own) == 1
    assert InboundEvent.objects.get(pk=waiting).status == InboundEvent.Status.ACCEPTED


@pytest.mark.django_db
def test_a_failing_event_among_the_waiting_ones_is_failed_alone_with_its_error(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(services, "event_handlers", lambda: [explode_on_bad])
    now = timezone.now()
    own = [identify_store(source, "own", now)]
    for n, user in enumerate(["w1", "bad", "w2", "w3"]):  # one chunk of the waiting events
        identify_store(source, user, now - timedelta(minutes=5 - n))

    assert tasks.process_inbound_events(own) == 4

    events = {e.user_id: e for e in InboundEvent.objects.all()}
    bad = events.pop("bad")
    assert (bad.status, bad.reason, bad.attempts, bad.processed_at) == (
        "failed",
        "ValueError: trait plan is not a string",
        1,
        None,
    )
    assert {(e.status, e.reason, e.attempts) for e in events.values()} == {("processed", "", 1)}


@pytest.mark.django_db(transaction=True)  # real transactions, as in a worker: no test transaction around
def test_an_event_whose_processing_breaks_the_transaction_is_failed_alone(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":  # SQLite's 1 / 0 is NULL, and no error aborts its transaction
        service_missing("PostgreSQL (a failed statement aborts the transaction)")

    def statement_fails_on_bad(*, events: Sequence[InboundEvent]) -> None:
        with connection.cursor() as cursor:  # the transaction is aborted after a failed statement
            cursor.execute("SELECT 1 / %s", [0 if any(e.user_id == "bad" for e in events) else 1])

    monkeypatch.setattr(services, "event_handlers", lambda: [statement_fails_on_bad])
    now = timezone.now()
    ids = [identify_store(source, user, now) for user in ("first", "bad", "last")]

    assert services.inbound_events_process(ids=ids) == 2

    events = {e.user_id: e for e in InboundEvent.objects.all()}
    assert (events["bad"].status, events["bad"].attempts) == ("failed", 1)
    assert events["bad"].reason.startswith("DataError: division by zero")
    assert {(events[u].status, events[u].attempts) for u in ("first", "last")} == {("processed", 1)}


@pytest.mark.django_db
def test_processing_twice_does_nothing_the_second_time(client: Client, write_key: str) -> None:
    post_batch(client, write_key, "once")
    ids = list(InboundEvent.objects.values_list("pk", flat=True))

    assert services.inbound_events_process(ids=ids) == 1
    assert services.inbound_events_process(ids=ids) == 0
    assert InboundEvent.objects.get().attempts == 1


@pytest.mark.django_db
def test_the_sweeper_is_scheduled_every_minute_after_migrate() -> None:
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(task="integrations.sweep_inbound_events")
    assert task.enabled
    assert (task.interval.every, task.interval.period) == (60, "seconds")
