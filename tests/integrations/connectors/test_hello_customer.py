"""Hello Customer: Segment calls become respondents, POSTed to a local server standing in for the API."""

import time

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination, MappingRule
from integrations.registry import connector_get
from tests.integrations.connectors.outbound import destination_create, enqueue_call, presets, vendor_request  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("presets")]

TOUCHPOINT = "5b1e8a3c-0d0a-4c55-9f1e-2a7a3f1c0b11"
LANGUAGE_NL = "9f0c6b7e-4c1a-4f3e-8a7d-1b2c3d4e5f60"
PATH = f"/V1.0/EN/Campaign/{TOUCHPOINT}/Respondent/Add"


@pytest.fixture
def hello_customer(httpserver: HTTPServer) -> Destination:
    rule = MappingRule.objects.get(mapping_set__target="hellocustomer.respondent", target="language_UniqueID")
    rule.options = {"table": {"nl": LANGUAGE_NL}}  # staff fill in their survey languages
    rule.save()
    return destination_create(
        "hello_customer",
        settings={"base_url": httpserver.url_for(""), "touchpoint_unique_id": TOUCHPOINT},
        secrets={"api_key": "hc-api-key-123"},
        call_types=["identify", "track"],
    )


def test_an_identify_call_adds_a_respondent_with_the_documented_body(
    httpserver: HTTPServer, hello_customer: Destination
) -> None:
    httpserver.expect_oneshot_request(
        PATH,
        method="POST",
        headers={"Authorization": "basic hc-api-key-123", "Content-Type": "application/json"},
        # The call's last_name is sent as lastName (the other spelling is found); its locale nl-BE is
        # looked up as nl (LANGUAGE_NL); the campaign is the TOUCHPOINT.
        json=vendor_request("hello_customer", "identify"),
    ).respond_with_json({"success": True})

    (delivery,) = enqueue_call("identify__hello_customer")
    deliveries_deliver_due()

    httpserver.check_assertions()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert "hc-api-key-123" not in str(delivery.last_exchange)


def test_a_track_call_takes_the_person_from_its_properties_and_the_default_language(
    httpserver: HTTPServer, hello_customer: Destination
) -> None:
    hello_customer.settings["language_unique_id"] = "00000000-0000-0000-0000-0000000000e1"
    hello_customer.save()
    httpserver.expect_oneshot_request(
        PATH,
        method="POST",
        json={
            "firstName": "Jan",
            "lastName": "Peeters",
            "email": "jan@example.be",
            "custom_UniqueID": "customer-9",
            "campaign_UniqueID": TOUCHPOINT,
            "language_UniqueID": "00000000-0000-0000-0000-0000000000e1",
            "keyValues": {},
        },
    ).respond_with_json({"success": True})

    enqueue_call(
        {
            "type": "track",
            "event": "Order Completed",
            "userId": "customer-9",
            "properties": {"firstname": "Jan", "lastname": "Peeters", "email": "jan@example.be"},
        }
    )
    deliveries_deliver_due()

    httpserver.check_assertions()
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_two_deliveries_reach_hello_customer_at_least_one_second_apart(
    httpserver: HTTPServer, hello_customer: Destination
) -> None:
    arrivals: list[float] = []

    def record(request: Request) -> Response:
        arrivals.append(time.time())
        return Response('{"success": true}', content_type="application/json")

    httpserver.expect_request(PATH, method="POST").respond_with_handler(record)
    assert connector_get("hello_customer").rate_limit_per_second == 1.0
    assert hello_customer.rate_limit_per_second is None  # the connector's own limit applies

    enqueue_call("identify__hello_customer", key="first")
    enqueue_call("identify__hello_customer", key="second")
    assert deliveries_deliver_due() == 2

    assert len(arrivals) == 2
    assert arrivals[1] - arrivals[0] >= 1.0, arrivals
    assert set(Delivery.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_400_from_hello_customer_fails_the_delivery_without_retry(
    httpserver: HTTPServer, hello_customer: Destination
) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_json({"error": "invalid email"}, status=400)

    (delivery,) = enqueue_call("identify__hello_customer")
    deliveries_deliver_due()
    deliveries_deliver_due()  # nothing is due again

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 1
    assert delivery.last_http_status == 400
    assert "invalid email" in delivery.last_error
    assert len(httpserver.log) == 1


@pytest.mark.parametrize("status", [500, 503, 429])
def test_a_5xx_or_429_from_hello_customer_is_retried_later(
    httpserver: HTTPServer, hello_customer: Destination, status: int
) -> None:
    httpserver.expect_request(PATH, method="POST").respond_with_data("busy", status=status)

    (delivery,) = enqueue_call("identify__hello_customer")
    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_http_status == status


def test_a_call_without_an_email_is_recorded_as_failed_and_not_sent(
    httpserver: HTTPServer, hello_customer: Destination
) -> None:
    (delivery,) = enqueue_call({"type": "identify", "userId": "u-1", "traits": {"firstName": "Ann"}})
    deliveries_deliver_due()

    assert delivery.status == Delivery.Status.FAILED
    assert "email" in delivery.last_error
    assert httpserver.log == []


def test_a_destination_subscribed_to_one_track_event_skips_the_others(hello_customer: Destination) -> None:
    hello_customer.call_types = ["track"]
    hello_customer.event_names = ["Order Completed"]
    hello_customer.save()
    properties = {"email": "jan@example.be"}

    assert (
        enqueue_call({"type": "track", "event": "Product Viewed", "userId": "u", "properties": properties})
        == []
    )
    assert enqueue_call({"type": "identify", "userId": "u", "traits": properties}) == []
    assert (
        len(
            enqueue_call(
                {"type": "track", "event": "Order Completed", "userId": "u", "properties": properties}
            )
        )
        == 1
    )


def test_validation_names_what_is_missing() -> None:
    problems = connector_get("hello_customer").validate(settings={"base_url": "ftp://x"}, secrets={})
    assert problems == [
        "settings: 'touchpoint_unique_id' is required.",
        "secrets: 'api_key' is required.",
        "settings: 'base_url' must start with https:// (or http://).",
    ]
