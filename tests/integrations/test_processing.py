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
from django.test import Client

from integrations import services, tasks
from integrations.models import InboundEvent, Source


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def batch(*user_ids: str) -> dict[str, Any]:
    return {"batch": [{"type": "identify", "userId": u, "traits": {"plan": "pro"}} for u in user_ids]}


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
        response = client.post(
            "/v1/batch",
            json.dumps(batch("b1", "b2")),
            content_type="application/json",
            HTTP_AUTHORIZATION=basic(write_key)["Authorization"],
        )

    assert response.status_code == 200
    assert time.monotonic() - started < 10, "a dead broker must not hold the client"
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"accepted"}

    # Not yet old enough for the sweeper: a worker might still be about to take them.
    assert services.inbound_events_sweep() == 0
    assert services.inbound_events_sweep(older_than=timedelta(0)) == 2
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}


@pytest.mark.django_db
def test_a_failing_event_is_marked_failed_with_its_error_and_siblings_are_processed(
    client: Client, write_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode_on_bad(events: Sequence[InboundEvent]) -> None:
        if any(event.user_id == "bad" for event in events):
            raise ValueError("trait plan is not a string")

    monkeypatch.setattr(services, "event_handlers", lambda: [explode_on_bad])
    client.post(
        "/v1/batch",
        json.dumps(batch("good", "bad")),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(write_key)["Authorization"],
    )
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
def test_processing_twice_does_nothing_the_second_time(client: Client, write_key: str) -> None:
    client.post(
        "/v1/batch",
        json.dumps(batch("once")),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(write_key)["Authorization"],
    )
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
