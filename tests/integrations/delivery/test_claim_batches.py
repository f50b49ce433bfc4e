"""Deliveries are claimed in batches: one transaction for many due rows, and a call further down a
batch never starts so late that its claim could run out during it (another worker would take the
row over and call again)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations import deliveries
from integrations.delivery_loop import LEASE_MARGIN_SECONDS, deliveries_claim, deliveries_deliver_due
from integrations.models import Delivery, Destination
from tests.integrations.delivery.conftest import destination_create, enqueue_one


def test_a_hundred_due_deliveries_are_claimed_in_one_transaction_of_a_few_statements(
    webhook: Destination, django_assert_max_num_queries: Any
) -> None:
    for n in range(100):
        enqueue_one(f"response-{n}-created")

    with django_assert_max_num_queries(8):
        claims = deliveries_claim(
            clock=timezone.now, ids=None, max_wait=10.0, skip=set(), done=set(), limit=100
        )

    assert len(claims) == 100
    leases = set(Delivery.objects.values_list("status", "attempts", "next_attempt_at"))
    (claimed_at,) = {claim.delivery.claimed_at for claim in claims}
    assert claimed_at is not None
    lease_end = claimed_at + timedelta(seconds=webhook.timeout_seconds + LEASE_MARGIN_SECONDS)
    assert leases == {("in_flight", 1, lease_end)}


@pytest.mark.django_db
def test_a_call_that_could_not_end_inside_its_claim_is_claimed_again_first(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each call takes 6 s (of a fake clock): the third of a batch would start 12 s after the claim,
    past its lease (timeout 1 s + 10 s). It is given back and claimed afresh before its call."""
    monkeypatch.setattr(deliveries, "_deliver_soon", lambda ids: None)
    arrivals: dict[str, datetime] = {}
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as clock:

        def slow(request: Request) -> Response:
            arrivals[request.headers["webhook-id"]] = timezone.now()
            clock.shift(timedelta(seconds=6))
            return Response("ok")

        httpserver.expect_request("/slow").respond_with_handler(slow)
        destination = destination_create(httpserver.url_for("/slow"), timeout_seconds=1.0)
        keys = [enqueue_one(f"response-{n}-created").idempotency_key for n in range(3)]

        assert deliveries_deliver_due() == 3

    assert sorted(arrivals) == sorted(keys)
    assert len(httpserver.log) == 3  # each called once
    for delivery in Delivery.objects.all():
        assert (delivery.status, delivery.attempts) == ("delivered", 1)
        # The call started early enough to end before the lease of the claim that made it.
        call_end = arrivals[delivery.idempotency_key] + timedelta(seconds=destination.timeout_seconds)
        assert call_end <= delivery.next_attempt_at
