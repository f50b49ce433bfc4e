"""Erasure reaches the sync-back batches: a batch holds many people's answers in one payload, so an
erased person's identify calls leave it (and its stored request), and everyone else's stay, sent once."""

import orjson
from pytest_httpserver import HTTPServer

from customers.models import Person
from customers.services.erasure import person_erase
from integrations.models import Delivery, Destination, Source
from integrations.services import source_create
from surveys.models import SyncCursor
from tests.surveys.sync_back.conftest import (
    START,
    answer_add,
    answers_make,
    bodies,
    run,
    segment_destination,
    segment_ok,
)


def comment(i: int) -> str:
    return f"private remark number {i}"


def test_an_erased_person_leaves_a_waiting_batch_and_the_others_are_sent_once(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request("/v1/batch").respond_with_data("busy", status=503)
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    responses = answers_make(source, 3, comment=comment)
    assert run(destination).status == "waiting"
    waiting = Delivery.objects.get()

    receipt = person_erase(source=source, user_id="user-1", requested_by="staff test")

    waiting.refresh_from_db()
    assert [e["userId"] for e in waiting.payload["batch"]] == ["user-0", "user-2"]
    stored = orjson.dumps([waiting.payload, waiting.last_exchange]).decode()
    assert "user-1" not in stored
    assert comment(1) not in stored
    assert receipt.erased["sync_back_calls_erased"] == 1

    report = run(destination)

    assert report.status == "done"
    sent = [[e["userId"] for e in body["batch"]] for body in bodies(httpserver)]
    assert sent == [["user-0", "user-1", "user-2"], ["user-0", "user-2"]]  # the refused try, then the rest
    cursor = SyncCursor.objects.get(destination=destination)
    assert cursor.batch_delivery is None
    assert cursor.last_response_id == responses[-1].pk
    assert run(destination).requests == 0


def test_a_delivered_batch_forgets_the_erased_person_only(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    answers_make(source, 2, comment=comment)
    shop, _ = source_create(name="Shop", slug="shop")
    namesake = Person.objects.create(source=shop, user_id="user-0")  # another source's user-0: someone else
    answer_add(namesake, rating=7, at=START, comment="the shop's customer")
    shop_destination = segment_destination(httpserver.url_for("/"), shop, name="Segment (shop)")
    assert run(destination).status == run(shop_destination).status == "done"

    person_erase(source=source, user_id="user-0", requested_by="staff test")

    batch = Delivery.objects.get(destination=destination)
    assert [e["userId"] for e in batch.payload["batch"]] == ["user-1"]
    assert batch.last_exchange is not None
    assert [e["userId"] for e in orjson.loads(batch.last_exchange["request_body"])["batch"]] == ["user-1"]
    assert batch.status == Delivery.Status.DELIVERED
    shop_batch = Delivery.objects.get(destination=shop_destination)
    assert [e["traits"]["NPS_comment"] for e in shop_batch.payload["batch"]] == ["the shop's customer"]
    assert run(destination).requests == 0
