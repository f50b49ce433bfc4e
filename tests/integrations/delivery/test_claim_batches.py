"""Deliveries are claimed in batches: one transaction for many due rows, and a call further down a
batch never starts so late that its claim could run out during it (another worker would take the
row over and call again)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations import deliveries
from integrations.delivery_loop import LEASE_MARGIN_SECONDS, deliveries_claim, deliveries_deliver_due
from integrations.models import Delivery, Destination
from tests.conftest import service_missing
from tests.integrations.delivery.conftest import EVENT, destination_create, enqueue_one
from tests.sources import source_default


def enqueue_to_all(key: str) -> None:
    deliveries.deliveries_enqueue(
        event_type="response.created", data=EVENT, idempotency_key=key, source_id=source_default().pk
    )


def claim(limit: int = 100, **options: Any) -> list[Any]:
    return deliveries_claim(
        clock=timezone.now,
        ids=options.get("ids"),
        max_wait=10.0,
        skip=options.get("skip", set()),
        done=options.get("done", set()),
        limit=limit,
    )


def test_a_hundred_due_deliveries_are_claimed_and_leased_by_one_statement(
    webhook: Destination, django_assert_num_queries: Any
) -> None:
    if connection.vendor != "postgresql":  # elsewhere (SQLite, one writer) the ORM's few statements
        service_missing("PostgreSQL (the claim's one statement)")
    for n in range(200):
        enqueue_one(f"response-{n}-created")

    with django_assert_num_queries(2):  # the claim, and its destination, the first time it is seen
        first = claim()
    with django_assert_num_queries(1):
        second = claim()

    assert len(first) == len(second) == 100
    assert len({c.delivery.pk for c in first + second}) == 200
    leases = set(Delivery.objects.values_list("status", "attempts", "next_attempt_at"))
    (claimed_at,) = {c.delivery.claimed_at for c in first}
    assert claimed_at is not None
    lease_end = claimed_at + timedelta(seconds=webhook.timeout_seconds + LEASE_MARGIN_SECONDS)
    assert ("in_flight", 1, lease_end) in leases
    assert {status for status, _, _ in leases} == {"in_flight"}
    assert {attempts for _, attempts, _ in leases} == {1}
    assert [c.delivery.attempts for c in first] == [1] * 100
    assert all(c.destination == webhook for c in first + second)


@time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False)
def test_a_destination_changed_between_claims_is_the_changed_one_in_the_next_claim(
    webhook: Destination,
) -> None:
    """Destinations are kept between claims, checked against a version of their row: a change the
    model's `updated_at` does not show (a queryset update, the same instant, the same transaction)
    is seen all the same."""
    enqueue_one("response-1-created")
    [before] = claim()
    assert before.destination.settings["url"].endswith("/hooks/feedback")

    Destination.objects.filter(pk=webhook.pk).update(settings={"url": "https://hooks.example.com/moved"})
    webhook.refresh_from_db()
    webhook.secrets_update({"signing_secret": "whsec_" + "A" * 44})
    webhook.save(update_fields=["secrets"])
    enqueue_one("response-2-created")
    [after] = claim()

    assert after.destination.settings == {"url": "https://hooks.example.com/moved"}
    assert after.destination.secret_values() == {"signing_secret": "whsec_" + "A" * 44}


def test_a_rate_limited_destination_gets_one_delivery_per_claim_last_and_the_others_fill_the_batch(
    webhook: Destination, httpserver: HTTPServer
) -> None:
    limited = destination_create(httpserver.url_for("/limited"), name="Limited", rate_limit_per_second=1.0)
    for n in range(3):
        enqueue_to_all(f"response-{n}-created")  # one delivery to each destination

    claims = claim()

    assert [c.destination.pk for c in claims] == [webhook.pk] * 3 + [limited.pk]
    assert claims[-1].slot is not None
    left = Delivery.objects.filter(destination=limited, status="pending")
    assert left.count() == 2
    assert set(left.values_list("attempts", flat=True)) == {0}
    # The paced row comes first within the limit; the others take what it leaves.
    Delivery.objects.update(status="pending", attempts=0, next_attempt_at=timezone.now())
    Destination.objects.filter(pk=limited.pk).update(next_slot_at=None)
    assert [c.destination.pk for c in claim(limit=2)] == [webhook.pk, limited.pk]


def test_only_due_deliveries_of_enabled_destinations_outside_skip_and_done_are_claimed(
    webhook: Destination, httpserver: HTTPServer
) -> None:
    other = destination_create(httpserver.url_for("/other"), name="Other")
    for n in range(4):
        enqueue_to_all(f"response-{n}-created")
    mine = list(Delivery.objects.filter(destination=webhook).order_by("pk"))
    Delivery.objects.filter(pk=mine[0].pk).update(next_attempt_at=timezone.now() + timedelta(minutes=1))
    Delivery.objects.filter(pk=mine[1].pk).update(status="delivered")

    claimed = claim(skip={other.pk}, done={mine[2].pk})
    assert [c.delivery.pk for c in claimed] == [mine[3].pk]
    assert claim(ids=[mine[0].pk, mine[2].pk], done={mine[2].pk}) == []  # one not due, one done
    assert [c.delivery.pk for c in claim(ids=[mine[0].pk, mine[2].pk])] == [mine[2].pk]
    Destination.objects.filter(pk=other.pk).update(enabled=False)
    assert claim() == []


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
