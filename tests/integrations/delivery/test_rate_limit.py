"""A per-destination rate limit holds across concurrent delivery loops (each with its own connection)."""

import itertools
import time

import pytest
from django.db import connection
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations import deliveries
from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery
from tests.conftest import service_missing
from tests.integrations.delivery.conftest import destination_create, enqueue_one
from tests.threads import in_threads


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_loops_keep_one_second_between_calls_to_a_1_per_second_destination(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (row locks with SKIP LOCKED across connections)")
    arrivals: list[float] = []

    def record(request: Request) -> Response:
        arrivals.append(time.monotonic())
        return Response("ok")

    httpserver.expect_request("/limited").respond_with_handler(record)
    destination_create(httpserver.url_for("/limited"), rate_limit_per_second=1.0)
    monkeypatch.setattr(deliveries, "_deliver_soon", lambda ids: None)  # only the two loops deliver
    for n in range(5):
        enqueue_one(f"response-{n}-created")

    counts = in_threads(deliveries_deliver_due, deliveries_deliver_due)  # raises what a loop raised

    assert sum(counts) == 5
    assert min(counts) >= 1, "both loops must have delivered, or the test proves nothing"
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert len(arrivals) == 5
    assert min(gaps) >= 1.0, gaps


def test_a_delivery_whose_slot_is_far_away_waits_as_pending(db: None, httpserver: HTTPServer) -> None:
    """A loop does not sleep for minutes on a busy destination: the delivery is due at its slot."""
    httpserver.expect_request("/limited").respond_with_data("ok")
    destination = destination_create(
        httpserver.url_for("/limited"), rate_limit_per_second=0.01
    )  # 1 per 100 s
    first, second = enqueue_one("a"), enqueue_one("b")

    started = time.monotonic()
    assert deliveries_deliver_due() == 1
    assert time.monotonic() - started < 5

    first.refresh_from_db()
    second.refresh_from_db()
    destination.refresh_from_db()
    assert first.status == "delivered"
    assert second.status == "pending"
    assert second.attempts == 0
    assert destination.next_slot_at is not None
    assert second.next_attempt_at == destination.next_slot_at
