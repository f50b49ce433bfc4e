"""The engine's one-destination enqueue (a caller that chose its destination, as the sync-back does)
and "send now" (a worker that needs the outcome at once), against a real local HTTP server."""

import time
from typing import Any

from django.utils import timezone
from pytest_httpserver import HTTPServer

from integrations.deliveries import delivery_enqueue, delivery_send_now
from integrations.delivery_loop import deliveries_claim, deliveries_deliver_due, delivery_attempt
from integrations.models import Delivery, Destination
from tests.integrations.delivery.conftest import EVENT, destination_create

PATH = "/hooks/feedback"


def test_an_event_goes_to_the_destination_named_whatever_it_subscribes_to(
    webhook: Destination, httpserver: HTTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    httpserver.expect_request(PATH).respond_with_data("ok")
    webhook.call_types = []
    webhook.save()
    subscribed = destination_create(httpserver.url_for(PATH), name="Subscribed")  # same source

    with django_capture_on_commit_callbacks(execute=True):
        delivery = delivery_enqueue(
            destination=webhook, event_type="nps.export", data=EVENT, idempotency_key="export-1"
        )

    assert delivery is not None
    assert list(Delivery.objects.values_list("destination", flat=True)) == [webhook.pk]
    assert not subscribed.deliveries.exists()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED, "a task delivered it after commit"
    assert delivery.payload["type"] == "nps.export"
    assert delivery.payload["data"] == EVENT, "the destination's connector built the payload"
    assert len(httpserver.log) == 1


def test_the_same_key_again_gives_the_same_delivery_unchanged(webhook: Destination) -> None:
    first = delivery_enqueue(destination=webhook, event_type="nps.export", data=EVENT, idempotency_key="k")
    again = delivery_enqueue(
        destination=webhook, event_type="nps.export", data={"changed": True}, idempotency_key="k"
    )

    assert first is not None
    assert again is not None
    assert again.pk == first.pk
    assert Delivery.objects.get().payload["data"] == EVENT


def test_a_caller_that_sends_it_itself_gets_no_task(
    webhook: Destination, httpserver: HTTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        delivery = delivery_enqueue(
            destination=webhook,
            event_type="nps.export",
            data=EVENT,
            idempotency_key="k",
            deliver_after_commit=False,
        )

    assert delivery is not None
    assert callbacks == []
    assert delivery.status == Delivery.Status.PENDING


def _pending_after_a_503(webhook: Destination, httpserver: HTTPServer) -> Delivery:
    httpserver.expect_oneshot_request(PATH).respond_with_data("busy", status=503)
    delivery = delivery_enqueue(
        destination=webhook,
        event_type="nps.export",
        data=EVENT,
        idempotency_key="k",
        deliver_after_commit=False,
    )
    assert delivery is not None
    assert deliveries_deliver_due() == 1
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.next_attempt_at > timezone.now(), "in backoff"
    return delivery


def test_send_now_attempts_a_delivery_in_backoff_at_once(
    webhook: Destination, httpserver: HTTPServer
) -> None:
    waiting = _pending_after_a_503(webhook, httpserver)
    httpserver.expect_request(PATH).respond_with_data("ok")

    delivery, attempted = delivery_send_now(delivery_id=waiting.pk)

    assert (delivery.status, delivery.attempts, attempted) == ("delivered", 2, True)
    assert [r.status_code for _, r in httpserver.log] == [503, 200]


def test_send_now_replays_a_failed_delivery_and_leaves_a_delivered_one_unless_asked_again(
    webhook: Destination, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_data("no", status=400)
    httpserver.expect_request(PATH).respond_with_data("ok")
    enqueued = delivery_enqueue(
        destination=webhook,
        event_type="nps.export",
        data=EVENT,
        idempotency_key="k",
        deliver_after_commit=False,
    )
    assert enqueued is not None
    deliveries_deliver_due()

    replayed, attempted = delivery_send_now(delivery_id=enqueued.pk)
    assert (replayed.status, attempted) == ("delivered", True)
    left, attempted = delivery_send_now(delivery_id=enqueued.pk)
    assert (left.status, attempted) == ("delivered", False)
    again, attempted = delivery_send_now(delivery_id=enqueued.pk, again=True)
    assert (again.status, again.attempts, attempted) == ("delivered", 3, True)

    assert [r.status_code for _, r in httpserver.log] == [400, 200, 200]
    assert {request.headers["webhook-id"] for request, _ in httpserver.log} == {"k"}


def test_send_now_leaves_a_delivery_another_worker_holds_to_it_without_waiting(
    webhook: Destination, httpserver: HTTPServer
) -> None:
    waiting = _pending_after_a_503(webhook, httpserver)
    httpserver.expect_request(PATH).respond_with_data("ok")
    Delivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now())
    [claim] = deliveries_claim(clock=timezone.now, ids=None, max_wait=10.0, skip=set(), done=set(), limit=1)

    started = time.monotonic()
    delivery, attempted = delivery_send_now(delivery_id=waiting.pk)

    assert time.monotonic() - started < 1
    assert (delivery.status, attempted) == ("in_flight", False)
    assert delivery_attempt(claim=claim, clock=timezone.now) == Delivery.Status.DELIVERED
    assert [r.status_code for _, r in httpserver.log] == [503, 200]
