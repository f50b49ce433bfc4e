"""Deliveries are claimed in batches: one transaction for many due rows, and a call further down a
batch never starts so late that its claim could run out during it (another worker would take the
row over and call again)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
import time_machine
from django.db import OperationalError, close_old_connections, connection
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


@pytest.mark.django_db(transaction=True)
def test_a_worker_whose_database_connection_broke_delivers_again_after_the_task(
    webhook: Destination, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker keeps its connection from task to task (CONN_MAX_AGE); PostgreSQL restarting breaks it.
    The claim's error is Django's, as the ORM's are, so the cleanup after the task (hub/celery.py,
    close_old_connections) drops the broken connection and the next run delivers."""
    if connection.vendor != "postgresql":  # the claim's own statement (elsewhere the ORM's)
        service_missing("PostgreSQL (the claim's one statement)")
    monkeypatch.setattr(deliveries, "_deliver_soon", lambda ids: None)
    httpserver.expect_request("/hooks/feedback").respond_with_data("ok")
    enqueue_one()
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 60)
    connection.close()
    connection.ensure_connection()  # kept for 60 s, as in a worker
    params = connection.get_connection_params()
    address = {k: v for k, v in params.items() if k in ("dbname", "user", "host", "port")}
    with psycopg.connect(**address) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [connection.connection.info.backend_pid])

    with pytest.raises(OperationalError):
        deliveries_deliver_due()
    close_old_connections()

    assert deliveries_deliver_due() == 1
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED
