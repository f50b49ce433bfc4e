"""A real Celery worker killed (SIGKILL) in the middle of a call, and a new one started.

What the remote sees: deliveries that were waiting when the worker died are sent once; the one in
flight is sent again once its claim expires, with the same webhook-id, so a receiver that drops
repeated ids sees it once. (The hub cannot know whether the killed call reached the remote: that
call is repeated, never lost.)
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hub.celery import app as celery_app
from integrations import tasks
from integrations.models import Delivery
from tests.conftest import ROOT, service_missing, subprocess_env
from tests.integrations.delivery.conftest import destination_create, enqueue_one


@contextmanager
def celery_worker_process(log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A `celery worker` on the configured broker reading the test database (as tests/conftest.py's)."""
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        import redis

        try:
            redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2).ping()
        except redis.RedisError:
            service_missing(f"Redis at {settings.CELERY_BROKER_URL}")
    extra: dict[str, str] = {}
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        extra["CELERY_FILESYSTEM_BROKER_DIR"] = str(settings.CELERY_FILESYSTEM_BROKER_DIR)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "hub", "worker", "--pool=solo", "--without-gossip",
             "--without-mingle", "--loglevel=INFO"],
            cwd=ROOT,
            env=subprocess_env(**extra),
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while b"ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def threaded_server() -> Iterator[HTTPServer]:
    """A server that answers while one of its handlers hangs (the call the worker dies in)."""
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_delivery_is_replaced_and_the_delivery_completes(
    threaded_server: HTTPServer, tmp_path: Path
) -> None:
    seen: list[str] = []
    in_first_call = threading.Event()

    def handler(request: Request) -> Response:
        msg_id = request.headers["webhook-id"]
        seen.append(msg_id)
        if msg_id == "k-0" and seen.count("k-0") == 1:
            in_first_call.set()
            time.sleep(2)  # the worker is killed while it waits for this answer
        return Response("ok")

    threaded_server.expect_request("/hooks").respond_with_handler(handler)
    destination_create(threaded_server.url_for("/hooks"), timeout_seconds=3)
    celery_app.conf.task_always_eager = False

    with celery_worker_process(tmp_path / "worker-1.log") as first:
        enqueue_one("k-0")  # committed at once (transactional test): its task goes to the worker
        assert in_first_call.wait(30), (tmp_path / "worker-1.log").read_text()[-3000:]
        enqueue_one("k-1")
        enqueue_one("k-2")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)

    in_flight = Delivery.objects.get(idempotency_key="k-0")
    assert in_flight.status == Delivery.Status.IN_FLIGHT
    assert in_flight.attempts == 1

    with celery_worker_process(tmp_path / "worker-2.log"):
        # The waiting deliveries' tasks reach the new worker; k-0's claim has not expired yet.
        lease_end = in_flight.next_attempt_at
        wait_for(lambda: timezone.now() >= lease_end, "the dead worker's claim to expire", timeout=60)
        tasks.deliver_due.delay()  # what the beat does every minute
        wait_for(
            lambda: set(Delivery.objects.values_list("status", flat=True)) == {"delivered"},
            "every delivery to be delivered",
        )

    assert seen.count("k-1") == 1
    assert seen.count("k-2") == 1
    assert seen.count("k-0") == 2, (
        "the call in flight when the worker died is repeated, with the same webhook-id"
    )
    completed = Delivery.objects.get(idempotency_key="k-0")
    assert completed.attempts == 2
    assert completed.last_http_status == 200
