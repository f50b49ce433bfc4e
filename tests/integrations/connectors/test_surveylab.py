"""SurveyLab: configured events call the collector's API link (token from the secrets) with the
source and an action, against a local server standing in for SurveyLab."""

import pytest
from pytest_httpserver import HTTPServer

from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination
from integrations.registry import connector_get
from tests.integrations.connectors.outbound import destination_create, enqueue_call, presets, vendor_request  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("presets")]

TOKEN = "sl-token-7f3a9c"


@pytest.fixture
def surveylab(httpserver: HTTPServer) -> Destination:
    return destination_create(
        "surveylab",
        settings={
            "api_link": httpserver.url_for("/api.php?cId=4711"),
            "actions": {
                "identify": "addContactToCollector",
                "Trial Started": "turnOnCollector",
                "Trial Ended": "turnOffCollector",
            },
        },
        secrets={"api_token": TOKEN},
        call_types=["identify", "track"],
    )


def query(action: str) -> dict[str, str]:
    return {"cId": "4711", "apiToken": TOKEN, "source": "segment", "action": action}


def test_identify_adds_the_contact_to_the_collector_through_the_link_with_the_secret_token(
    httpserver: HTTPServer, surveylab: Destination
) -> None:
    httpserver.expect_oneshot_request(
        "/api.php",
        method="POST",
        query_string=query("addContactToCollector"),
        json=vendor_request("surveylab", "addContactToCollector"),
    ).respond_with_json({"status": "OK"})

    (delivery,) = enqueue_call("identify__hello_customer")
    assert TOKEN not in str(delivery.payload)  # the stored payload holds no secret
    deliveries_deliver_due()

    httpserver.check_assertions()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert TOKEN not in str(delivery.last_exchange)  # masked in what the admin shows
    assert delivery.last_exchange is not None
    assert "apiToken=" in delivery.last_exchange["url"]


@pytest.mark.parametrize(
    ("event", "action"), [("Trial Started", "turnOnCollector"), ("Trial Ended", "turnOffCollector")]
)
def test_configured_track_events_turn_the_collector_on_and_off(
    httpserver: HTTPServer, surveylab: Destination, event: str, action: str
) -> None:
    httpserver.expect_oneshot_request(
        "/api.php", method="POST", query_string=query(action), data=b""
    ).respond_with_json({"status": "OK"})

    (delivery,) = enqueue_call({"type": "track", "event": event, "userId": "u-1"})
    deliveries_deliver_due()

    httpserver.check_assertions()
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED


def test_events_without_an_action_are_not_sent(httpserver: HTTPServer, surveylab: Destination) -> None:
    assert enqueue_call({"type": "track", "event": "Page Scrolled", "userId": "u-1"}) == []
    assert not Delivery.objects.exists()


def test_a_contact_without_email_is_recorded_as_failed(
    httpserver: HTTPServer, surveylab: Destination
) -> None:
    (delivery,) = enqueue_call({"type": "identify", "userId": "u-1", "traits": {"name": "No Mail"}})

    assert delivery.status == Delivery.Status.FAILED
    assert "email" in delivery.last_error


def test_a_400_from_surveylab_fails_the_delivery_without_retry(
    httpserver: HTTPServer, surveylab: Destination
) -> None:
    httpserver.expect_request("/api.php").respond_with_json({"error": "collector closed"}, status=400)

    (delivery,) = enqueue_call({"type": "track", "event": "Trial Ended", "userId": "u-1"})
    deliveries_deliver_due()
    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 1


def test_validation_keeps_the_token_out_of_the_link_and_checks_actions() -> None:
    problems = connector_get("surveylab").validate(
        settings={
            "api_link": "https://eu.surveylab.com/api.php?apiToken=abc&cId=12",
            "actions": {"identify": "sendSurvey"},
        },
        secrets={},
    )
    assert problems == [
        "secrets: 'api_token' is required.",
        "settings: remove apiToken from 'api_link' and store it as the secret api_token.",
        "settings: unknown action 'sendSurvey' for 'identify' "
        "(one of addContactToCollector, turnOnCollector, turnOffCollector).",
    ]
    assert (
        connector_get("surveylab").validate(
            settings={"api_link": "https://eu.surveylab.com/api.php?cId=12"}, secrets={"api_token": "t"}
        )
        == []
    )
