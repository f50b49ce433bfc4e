"""Slack: an alert posted as a Block Kit message to the incoming webhook (a local server stands in for
Slack), the webhook URL kept secret and sent only to the host it was entered for."""

import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from integrations.base import ALERT_DIGEST, ALERT_FIRED
from integrations.deliveries import delivery_enqueue
from integrations.delivery_loop import deliveries_deliver_due
from integrations.http import MASK
from integrations.models import Delivery, Destination
from tests.integrations.connectors.outbound import destination_create, vendor_request

pytestmark = pytest.mark.django_db

HOOK_PATH = "/services/T0001/B0002/aBcDeF7f3a9c"


def alert(**response: Any) -> dict[str, Any]:
    return {
        "rule": {"id": 1, "name": "Enterprise detractors"},
        "response": {
            "response_id": 42,
            "survey": "onboarding",
            "rating": 3,
            "band": "detractor",
            "comment": "too slow <!channel> & <https://evil.example|click>",
            "person": {
                "user_id": "u-1",
                "email": "ann@example.com",
                "name": "Ann Smith",
                "source": "web-app",
            },
            **response,
        },
        "account": {"name": "Acme Corp"},
        "admin_url": "https://hub.acme.example/admin/actions/case/7/change/",
    }


@pytest.fixture
def slack(httpserver: HTTPServer) -> Destination:
    return destination_create(
        "slack",
        settings={"base_url": httpserver.url_for("/").rstrip("/")},
        secrets={"webhook_url": httpserver.url_for(HOOK_PATH)},
        call_types=[],
    )


def send(
    destination: Destination, event_type: str, data: dict[str, Any], key: str = "alert:42:1"
) -> Delivery:
    delivery = delivery_enqueue(
        destination=destination, event_type=event_type, data=data, idempotency_key=key
    )
    assert delivery is not None
    deliveries_deliver_due()
    delivery.refresh_from_db()
    return delivery


def test_an_alert_is_one_block_kit_message_with_score_comment_person_and_link(
    httpserver: HTTPServer, slack: Destination
) -> None:
    httpserver.expect_oneshot_request(HOOK_PATH, method="POST").respond_with_data("ok")

    delivery = send(slack, ALERT_FIRED, alert())

    assert delivery.status == Delivery.Status.DELIVERED
    ((request, _),) = httpserver.log
    message = json.loads(request.get_data())
    # Score, survey, person and account, the comment, the button to the case: tests/fixtures/slack/.
    # The customer's words cannot ping the channel or hide a link (escaped for mrkdwn).
    assert message == vendor_request("slack", "alert.fired")
    assert "<!channel>" not in json.dumps(message)
    # The webhook URL is a credential: masked in what the admin shows.
    assert HOOK_PATH not in json.dumps(delivery.last_exchange)
    assert delivery.last_exchange is not None
    assert MASK in delivery.last_exchange["url"]


def test_a_digest_lists_each_answer(httpserver: HTTPServer, slack: Destination) -> None:
    httpserver.expect_oneshot_request(HOOK_PATH, method="POST").respond_with_data("ok")
    data = {
        "rule": {"id": 1, "name": "Detractors"},
        "period": "daily",
        "alerts": [alert(), alert(response_id=43, rating=5, comment="price")],
    }

    assert send(slack, ALERT_DIGEST, data, key="alert.digest:1:x").status == Delivery.Status.DELIVERED

    message = json.loads(httpserver.log[0][0].get_data())
    assert message["text"] == "2 answers for rule Detractors (daily digest)"
    assert [json.dumps(b).count("/10 (") for b in message["blocks"]].count(1) == 2


def test_slack_refusing_the_webhook_fails_it_for_good_and_a_server_error_is_retried(
    httpserver: HTTPServer, slack: Destination
) -> None:
    httpserver.expect_oneshot_request(HOOK_PATH).respond_with_data("no_service", status=404)
    assert send(slack, ALERT_FIRED, alert()).status == Delivery.Status.FAILED

    httpserver.expect_oneshot_request(HOOK_PATH).respond_with_data("oops", status=500)
    assert send(slack, ALERT_FIRED, alert(), key="alert:43:1").status == Delivery.Status.PENDING


def test_a_webhook_url_on_another_host_is_refused_when_saved_and_never_called(
    httpserver: HTTPServer, slack: Destination
) -> None:
    problems = slack.configuration_problems(
        kind="slack", settings=slack.settings, secrets={"webhook_url": "https://attacker.example/x"}
    )
    assert [p for p in problems if "must be an address on" in p]

    # Stored some other way (not through the admin or the API): the connector still refuses to send it.
    slack.secrets_update({"webhook_url": "http://localhost:1/services/x"})
    slack.save()
    delivery = send(slack, ALERT_FIRED, alert())
    assert (delivery.status, delivery.last_error) == (
        Delivery.Status.FAILED,
        "The webhook URL is not on the destination's base_url host.",
    )
    assert httpserver.log == []


def test_moving_the_base_url_drops_the_stored_webhook_url(slack: Destination) -> None:
    slack.settings = {"base_url": "https://hooks.slack.com"}
    slack.save()

    assert slack.secret_values() == {}


def test_slack_takes_alerts_only(slack: Destination) -> None:
    delivery = delivery_enqueue(
        destination=slack, event_type="response.created", data={"rating": 3}, idempotency_key="r"
    )
    assert delivery is not None
    assert delivery.status == Delivery.Status.FAILED
    assert "Slack takes alerts" in delivery.last_error
