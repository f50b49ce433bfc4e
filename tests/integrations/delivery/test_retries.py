"""Failures against a real HTTP server: what is retried, when, and when the engine gives up."""

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import time_machine
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations.deliveries import deliveries_replay, deliveries_replay_dead
from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination
from tests.integrations.delivery.conftest import closed_port, destination_create, enqueue_one

START = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def run_when_due(clock: time_machine.Traveller, delivery: Delivery) -> Delivery:
    """Move the clock to the delivery's next attempt and run the loop once."""
    delivery.refresh_from_db()
    clock.move_to(max(delivery.next_attempt_at, datetime.now(UTC)))
    assert deliveries_deliver_due() == 1
    delivery.refresh_from_db()
    return delivery


def test_503_twice_then_200_is_delivered_on_the_third_attempt(
    webhook: Destination, httpserver: HTTPServer, clock: time_machine.Traveller
) -> None:
    for _ in range(2):
        httpserver.expect_oneshot_request("/hooks/feedback").respond_with_data("busy", status=503)
    httpserver.expect_request("/hooks/feedback").respond_with_data("ok")
    delivery = enqueue_one()

    deliveries_deliver_due()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_http_status) == ("pending", 1, 503)
    assert delivery.last_error == "HTTP 503: busy"
    # Backoff with jitter: 10 s base, half of it random.
    assert START + timedelta(seconds=5) <= delivery.next_attempt_at <= START + timedelta(seconds=10)
    assert deliveries_deliver_due() == 0, "not due yet"

    delivery = run_when_due(clock, delivery)
    assert (delivery.status, delivery.attempts) == ("pending", 2)
    delivery = run_when_due(clock, delivery)
    assert (delivery.status, delivery.attempts, delivery.last_http_status) == ("delivered", 3, 200)
    assert [r.status_code for _, r in httpserver.log] == [503, 503, 200]
    assert {req.headers["webhook-id"] for req, _ in httpserver.log} == {"response-42-created"}


@pytest.mark.parametrize("retry_after", ["120", "http-date"])
def test_429_is_retried_no_earlier_than_retry_after(
    webhook: Destination, httpserver: HTTPServer, clock: time_machine.Traveller, retry_after: str
) -> None:
    if retry_after == "http-date":
        retry_after = format_datetime(START + timedelta(seconds=120), usegmt=True)
    httpserver.expect_request("/hooks/feedback").respond_with_data(
        "slow down", status=429, headers={"Retry-After": retry_after}
    )
    delivery = enqueue_one()

    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_http_status) == ("pending", 429)
    assert delivery.next_attempt_at == START + timedelta(seconds=120)
    clock.shift(timedelta(seconds=119))
    assert deliveries_deliver_due() == 0
    clock.shift(timedelta(seconds=1))
    assert deliveries_deliver_due() == 1


def test_400_fails_at_once_with_the_reason(webhook: Destination, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hooks/feedback").respond_with_json(
        {"error": "unknown field score"}, status=400
    )
    delivery = enqueue_one()

    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_http_status) == ("failed", 1, 400)
    assert "unknown field score" in delivery.last_error
    assert deliveries_deliver_due(now=delivery.next_attempt_at + timedelta(days=1)) == 0
    assert len(httpserver.log) == 1


def test_a_timeout_is_retried(db: None, httpserver: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(1.5)
        return Response("late")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    destination_create(httpserver.url_for("/slow"), timeout_seconds=0.5)
    delivery = enqueue_one()

    started = time.monotonic()
    deliveries_deliver_due()

    assert time.monotonic() - started < 1.4, "the call must give up at the timeout"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_http_status) == ("pending", 1, None)
    assert delivery.last_error == "timed out after 0.5 s"
    assert delivery.last_exchange is not None
    assert delivery.last_exchange["error"] == delivery.last_error
    while not httpserver.log:  # let the server finish, so the late request is not logged in the next test
        time.sleep(0.1)


def test_connection_refused_is_retried(db: None) -> None:
    destination_create(f"http://127.0.0.1:{closed_port()}/hooks")
    delivery = enqueue_one()

    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_http_status) == ("pending", 1, None)
    assert delivery.last_error.startswith("connection failed")
    assert "refused" in delivery.last_error.lower()


def test_an_endpoint_down_longer_than_the_max_age_makes_the_delivery_dead_then_replay_delivers(
    db: None, httpserver: HTTPServer, clock: time_machine.Traveller
) -> None:
    httpserver.expect_request("/hooks/feedback").respond_with_data("down", status=502)
    destination = destination_create(httpserver.url_for("/hooks/feedback"), max_age_seconds=4 * 3600)
    delivery = enqueue_one()

    deliveries_deliver_due()
    attempt_times = [START]
    delivery.refresh_from_db()
    while delivery.status != Delivery.Status.DEAD:
        delivery = run_when_due(clock, delivery)
        attempt_times.append(datetime.now(UTC))
        assert len(attempt_times) < 50, "the engine never gave up"

    assert delivery.attempts == len(attempt_times) == len(httpserver.log)
    assert attempt_times[-1] <= START + timedelta(hours=4)
    assert attempt_times[-1] >= START + timedelta(hours=3), "backoff must keep trying for most of the window"
    gaps = [b - a for a, b in itertools.pairwise(attempt_times)]
    assert gaps[0] < timedelta(seconds=11), "the first retry comes soon"
    assert max(gaps) <= timedelta(minutes=30), "exponential, capped"
    assert "gave up" in delivery.last_error
    assert "HTTP 502" in delivery.last_error
    clock.shift(timedelta(hours=2))
    assert deliveries_deliver_due() == 0, "dead is final until replayed"

    # The endpoint is back; staff replay every dead delivery of the destination.
    httpserver.clear()
    httpserver.expect_request("/hooks/feedback").respond_with_data("ok")
    assert deliveries_replay_dead(destination=destination) == 1
    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.attempts == len(attempt_times) + 1
    ((request, _),) = httpserver.log
    assert request.headers["webhook-id"] == "response-42-created", "a replay keeps the idempotency key"


def test_replay_leaves_pending_deliveries_alone(webhook: Destination) -> None:
    delivery = enqueue_one()
    assert deliveries_replay(ids=[delivery.pk]) == 0
