"""The webhook connector against a real HTTP server: what goes over the wire, and its signature."""

import os
import re
import shlex
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from integrations.deliveries import deliveries_enqueue
from integrations.delivery_loop import deliveries_deliver_due
from integrations.http import user_agent
from integrations.models import Delivery, Destination
from integrations.webhook.connector import secret_key
from tests.integrations.delivery.conftest import (
    EVENT,
    SECRET,
    destination_create,
    enqueue_one,
    standard_webhooks_verify,
)
from tests.sources import source_default


def test_a_response_is_posted_as_signed_json(webhook: Destination, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hooks/feedback", method="POST").respond_with_data("thanks", status=200)
    delivery = enqueue_one("response-42-created")

    assert deliveries_deliver_due() == 1

    ((request, _response),) = httpserver.log
    assert request.method == "POST"
    assert request.path == "/hooks/feedback"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == user_agent()
    assert user_agent().startswith("FeedbackHub/")
    assert request.headers["webhook-id"] == "response-42-created"
    body = standard_webhooks_verify(request, SECRET, now=time.time())
    assert body["type"] == "response.created"
    assert body["data"] == EVENT
    assert body["timestamp"].endswith("Z")

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.attempts == 1
    assert delivery.delivered_at is not None
    assert delivery.last_http_status == 200
    assert delivery.last_response_excerpt == "thanks"
    assert delivery.last_exchange is not None
    assert delivery.last_exchange["request_headers"]["webhook-id"] == "response-42-created"


def test_a_signature_made_with_another_secret_does_not_verify(
    webhook: Destination, httpserver: HTTPServer
) -> None:
    """The verifier is not a rubber stamp: a different secret fails it."""
    httpserver.expect_request("/hooks/feedback").respond_with_data("ok")
    enqueue_one()
    deliveries_deliver_due()
    ((request, _),) = httpserver.log
    other = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk="
    with pytest.raises(AssertionError, match="bad signature"):
        standard_webhooks_verify(request, other, now=time.time())


def test_only_enabled_destinations_subscribed_to_the_event_get_a_delivery(
    webhook: Destination, httpserver: HTTPServer
) -> None:
    destination_create(httpserver.url_for("/other"), name="Disabled", enabled=False)
    destination_create(httpserver.url_for("/other"), name="Invitations only", call_types=["invitation.sent"])
    tracks = destination_create(
        httpserver.url_for("/other"), name="Orders", call_types=["track"], event_names=["Order Completed"]
    )

    assert [d.destination for d in enqueue_response()] == [webhook]
    assert (
        deliveries_enqueue(
            event_type="track",
            data={"event": "Page Viewed"},
            idempotency_key="t1",
            source_id=source_default().pk,
        )
        == []
    )
    (order,) = deliveries_enqueue(
        event_type="track",
        data={"event": "Order Completed"},
        idempotency_key="t2",
        source_id=source_default().pk,
    )
    assert order.destination == tracks


def enqueue_response() -> list[Delivery]:
    return deliveries_enqueue(
        event_type="response.created", data=EVENT, idempotency_key="r-1", source_id=source_default().pk
    )


def test_enqueueing_the_same_key_twice_creates_one_delivery(webhook: Destination) -> None:
    first = enqueue_response()
    again = enqueue_response()
    assert [d.pk for d in again] == [d.pk for d in first]
    assert Delivery.objects.count() == 1


def test_deliveries_are_sent_right_after_commit(
    webhook: Destination, httpserver: HTTPServer, django_capture_on_commit_callbacks: Any
) -> None:
    """No beat needed: enqueueing fires the delivery task once the caller's transaction commits."""
    httpserver.expect_request("/hooks/feedback").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        (delivery,) = enqueue_response()
    assert len(httpserver.log) == 0, "nothing may be sent before the data it is about is committed"

    for callback in callbacks:
        callback()

    assert len(httpserver.log) == 1
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED


def test_a_payload_that_cannot_be_built_is_recorded_as_failed(webhook: Destination, monkeypatch: Any) -> None:
    from integrations.webhook.connector import WebhookConnector

    def broken(self: Any, **kwargs: Any) -> None:
        raise ValueError("no score")

    monkeypatch.setattr(WebhookConnector, "build", broken)
    (delivery,) = enqueue_response()
    assert delivery.status == Delivery.Status.FAILED
    assert "no score" in delivery.last_error
    assert deliveries_deliver_due(now=timezone.now()) == 0


def test_the_documented_secret_command_works_outside_the_project(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "operations.md").read_text()
    command = re.search(r"Make a secret with\s+`(python3 -c .+?)`\n", doc)
    assert command is not None, "docs/operations.md no longer shows how to make a webhook secret"
    environment = {"PATH": os.environ["PATH"]}  # no Django settings, no project on the path

    made = subprocess.run(
        shlex.split(command.group(1)),
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )

    assert made.returncode == 0, made.stderr
    secret = made.stdout.strip()
    assert secret.startswith("whsec_")
    assert len(secret_key(secret)) == 32
