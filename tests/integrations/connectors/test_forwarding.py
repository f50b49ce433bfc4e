"""Forwarding: a batch POSTed to /v1/batch, processed, and delivered reaches the destinations
subscribed to its calls, mapped for each vendor; rejected, failed and erased calls do not."""

import base64
import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from pytest_httpserver import HTTPServer

from customers.services.records import people_process_events
from hub.pipeline import PIPELINE, pipeline_functions
from integrations import services
from integrations.deliveries import deliveries_replay
from integrations.delivery_loop import deliveries_deliver_due
from integrations.forwarding import segment_events_forward
from integrations.models import Delivery, Destination, InboundEvent, Source
from integrations.services import inbound_events_process, inbound_events_reprocess
from tests.integrations.connectors.outbound import destination_create, presets  # noqa: F401
from tests.integrations.mappings.helpers import segment_call

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("presets")]

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def post_batch(client: Client, write_key: str, *calls: dict[str, Any]) -> None:
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    response = client.generic(
        "POST", "/v1/batch", json.dumps({"batch": list(calls)}), "application/json", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 200, response.content


def process() -> None:
    inbound_events_process(ids=list(InboundEvent.objects.values_list("pk", flat=True)))


def webhook(httpserver: HTTPServer, **fields: Any) -> Destination:
    return destination_create(
        "webhook", settings={"url": httpserver.url_for("/hook")}, secrets={"signing_secret": SECRET}, **fields
    )


def track(event: str, message_id: str, user_id: str = "u-1", **extra: Any) -> dict[str, Any]:
    return {"type": "track", "event": event, "userId": user_id, "messageId": message_id, **extra}


@pytest.fixture
def csb(httpserver: HTTPServer) -> Destination:
    return destination_create(
        "customersuccessbox",
        settings={"base_url": httpserver.url_for("/")},
        secrets={"api_key": "csb-key"},
        call_types=["identify", "group", "track"],
    )


def test_a_batch_is_processed_and_csb_receives_each_call_mapped(
    client: Client, source: Source, write_key: str, httpserver: HTTPServer, csb: Destination
) -> None:
    httpserver.expect_request("/api_js/v1_1/identify", method="POST").respond_with_json({"ok": True})
    httpserver.expect_request("/api_js/v1_1/account", method="POST").respond_with_json({"ok": True})
    httpserver.expect_request("/api_js/v1_1/feature", method="POST").respond_with_json({"ok": True})
    calls = [
        segment_call(n)
        for n in ("identify__csb_user", "group__csb_account", "track__csb_feature_default_module")
    ]
    post_batch(client, write_key, *calls)

    process()
    assert deliveries_deliver_due() == 3

    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}
    assert set(Delivery.objects.values_list("idempotency_key", flat=True)) == {
        f"segment:{source.pk}:{call['messageId']}" for call in calls
    }
    received = {request.path: request.get_json() for request, _ in httpserver.log}
    assert all(request.headers["Authorization"] == "Bearer csb-key" for request, _ in httpserver.log)
    user = received["/api_js/v1_1/identify"]
    assert (user["type"], user["account_id"], user["user_id"]) == ("user", "acme-bv", "user-4711")
    assert (user["traits"]["first_name"], user["traits"]["mailing_city"]) == ("Ann", "Gent")
    account = received["/api_js/v1_1/account"]
    assert (account["account_id"], account["traits"]["billing_postal_code"]) == ("acme-bv", "9051")
    feature = received["/api_js/v1_1/feature"]
    assert feature["feature_id"] == "Project Created"
    assert (feature["account_id"], feature["user_id"], feature["module_id"]) == (
        "acme-bv",
        "user-4711",
        "General",
    )


def test_a_destination_subscribed_to_order_completed_gets_nothing_else(
    client: Client, write_key: str, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    only_orders = webhook(httpserver, call_types=["track"], event_names=["Order Completed"])
    post_batch(
        client,
        write_key,
        {"type": "identify", "userId": "u-1", "messageId": "m-identify", "traits": {"plan": "pro"}},
        track("Product Viewed", "m-viewed"),
        track("Order Completed", "m-order", properties={"revenue": 42}),
        {"type": "page", "userId": "u-1", "messageId": "m-page", "name": "Order Completed"},
    )

    process()
    deliveries_deliver_due()

    (delivery,) = Delivery.objects.all()
    assert (delivery.destination, delivery.event_type, delivery.status) == (only_orders, "track", "delivered")
    ((request, _),) = httpserver.log
    body = request.get_json()
    assert (body["type"], body["data"]["event"], body["data"]["properties"]) == (
        "track",
        "Order Completed",
        {"revenue": 42},
    )


@pytest.fixture
def boom_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """A later processing handler that fails on the calls of user "boom"."""

    def fail_on_boom(events: Any) -> None:
        if any(event.user_id == "boom" for event in events):
            raise RuntimeError("boom")

    monkeypatch.setattr(services, "event_handlers", lambda: [*pipeline_functions(PIPELINE), fail_on_boom])


def test_rejected_and_failed_events_are_not_forwarded(
    client: Client, write_key: str, httpserver: HTTPServer, boom_fails: None
) -> None:
    webhook(httpserver, call_types=["track"])
    post_batch(
        client,
        write_key,
        track("Order Completed", "m-ok"),
        {"type": "track", "userId": "u-2", "messageId": "m-no-event"},  # no event name: rejected
        track("Order Completed", "m-boom", user_id="boom"),  # processing fails
    )

    process()

    statuses = dict(InboundEvent.objects.values_list("message_id", "status"))
    assert statuses == {"m-ok": "processed", "m-no-event": "rejected", "m-boom": "failed"}
    assert [key.rsplit(":", 1)[1] for key in Delivery.objects.values_list("idempotency_key", flat=True)] == [
        "m-ok"
    ]


def test_reprocessing_an_event_enqueues_nothing_new(
    client: Client, write_key: str, httpserver: HTTPServer
) -> None:
    webhook(httpserver, call_types=["track"])
    post_batch(client, write_key, track("Order Completed", "m-1"))
    process()
    (first,) = Delivery.objects.all()

    inbound_events_reprocess(ids=InboundEvent.objects.values_list("pk", flat=True))

    assert list(Delivery.objects.all()) == [first]


def test_calls_about_an_erased_person_are_not_forwarded_but_the_delete_is(
    client: Client, write_key: str, httpserver: HTTPServer
) -> None:
    webhook(httpserver, call_types=["identify", "delete"])
    traits = {"email": "gone@example.com"}
    post_batch(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u-gone",
            "messageId": "before",
            "traits": traits,
            "timestamp": "2026-01-01T10:00:00Z",
        },
        {"type": "delete", "userId": "u-gone", "messageId": "delete", "timestamp": "2026-01-01T10:01:00Z"},
        {
            "type": "identify",
            "userId": "u-gone",
            "messageId": "after",
            "traits": traits,
            "timestamp": "2026-01-01T10:02:00Z",
        },
    )
    process()
    post_batch(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u-other",
            "anonymousId": "x",
            "messageId": "by-email",
            "traits": traits,
        },
        {"type": "identify", "userId": "u-gone", "messageId": "next-day", "traits": {"plan": "pro"}},
        {"type": "identify", "userId": "u-kept", "messageId": "kept", "traits": {"plan": "pro"}},
    )
    process()

    forwarded = sorted(
        key.rsplit(":", 1)[1] for key in Delivery.objects.values_list("idempotency_key", flat=True)
    )
    assert forwarded == ["before", "delete", "kept"]


def test_forwarding_a_batch_takes_the_same_queries_for_3_or_25_events(
    client: Client, write_key: str, httpserver: HTTPServer, csb: Destination
) -> None:
    webhook(httpserver, call_types=["identify", "track"])  # and csb: two destinations, loaded once

    def forward(n: int, prefix: str) -> int:
        calls = [
            track("Project Created", f"{prefix}-{i}", user_id=f"u-{i}", properties={"account_id": "a"})
            for i in range(n)
        ]
        post_batch(client, write_key, *calls)
        events = list(InboundEvent.objects.filter(message_id__startswith=f"{prefix}-"))
        with CaptureQueriesContext(connection) as queries:
            segment_events_forward(events=events)
        assert (
            Delivery.objects.filter(idempotency_key__contains=f":{prefix}-", status="pending").count()
            == 2 * n
        )
        return len(queries)

    forward(1, "warm-up")  # the CSB preset is loaded and compiled once, then cached
    assert forward(3, "small") == forward(25, "large")


def test_forwarding_reads_what_the_records_step_found_and_asks_no_suppressions_itself(
    client: Client, write_key: str, httpserver: HTTPServer
) -> None:
    webhook(httpserver, call_types=["identify"])
    post_batch(client, write_key, {"type": "delete", "userId": "u-gone", "messageId": "m-delete"})
    process()
    post_batch(
        client,
        write_key,
        {"type": "identify", "userId": "u-gone", "messageId": "m-again"},
        {"type": "identify", "userId": "u-new", "messageId": "m-new"},
    )
    events = list(InboundEvent.objects.filter(message_id__in=["m-again", "m-new"]).order_by("pk"))
    people_process_events(events=events)

    with CaptureQueriesContext(connection) as queries:
        segment_events_forward(events=events)

    assert not [query for query in queries if "customers_suppression" in query["sql"]]
    assert list(Delivery.objects.values_list("idempotency_key", flat=True)) == [
        f"segment:{events[1].source_id}:m-new"
    ]


def test_a_collectors_webhook_calls_are_not_forwarded_as_segment_calls(
    client: Client, source: Source, write_key: str, httpserver: HTTPServer
) -> None:
    from surveys.models import Collector, Survey

    survey = Survey.objects.create(name="CSAT", slug="csat", automation_enabled=True)
    collector = Collector.objects.create(survey=survey, name="Intercom", source=source)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    webhook(httpserver, call_types=["track"])
    post_batch(client, write_key, track("intercom conversation.admin.closed", "m-hook"))

    process()

    assert collector.source == source
    assert not Delivery.objects.exists()


def test_erasing_a_person_empties_their_queued_deliveries_and_keeps_the_delete(
    client: Client, write_key: str, httpserver: HTTPServer
) -> None:
    webhook(httpserver, call_types=["identify", "delete"])
    post_batch(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u-gone",
            "messageId": "queued",
            "traits": {"email": "gone@example.com"},
        },
    )
    process()
    assert Delivery.objects.get().payload != {"erased": True}

    post_batch(client, write_key, {"type": "delete", "userId": "u-gone", "messageId": "delete"})
    process()

    queued = Delivery.objects.get(idempotency_key__endswith=":queued")
    assert queued.payload == {"erased": True}
    assert queued.status == Delivery.Status.FAILED
    assert "gone@example.com" not in json.dumps(list(Delivery.objects.values_list("payload", flat=True)))
    delete = Delivery.objects.get(idempotency_key__endswith=":delete")
    assert delete.status == Delivery.Status.PENDING
    assert delete.payload != {"erased": True}
    assert deliveries_replay(ids=[queued.pk]) == 0  # nothing left to send, nor to send again


@pytest.mark.parametrize("answer", [200, 400])
def test_a_forwarded_delete_forgets_the_person_once_the_vendor_had_it(
    client: Client, write_key: str, httpserver: HTTPServer, answer: int
) -> None:
    httpserver.expect_request("/hook").respond_with_data('{"erasing": "u-gone-7f3a"}', status=answer)
    webhook(httpserver, call_types=["delete"])
    post_batch(client, write_key, {"type": "delete", "userId": "u-gone-7f3a", "messageId": "delete"})
    process()

    deliveries_deliver_due()

    ((request, _),) = httpserver.log
    assert json.loads(request.get_data())["data"]["userId"] == "u-gone-7f3a"  # the vendor got it
    delete = Delivery.objects.get()
    assert delete.status == ("delivered" if answer == 200 else "failed")
    assert delete.last_http_status == answer
    assert "u-gone-7f3a" not in json.dumps(
        [delete.payload, delete.last_exchange, delete.last_response_excerpt, delete.last_error]
    )
