"""Destinations pointed at a real local HTTP server (pytest-httpserver), and a Standard Webhooks
verifier written from the specification, independent of the connector's own signing code."""

import base64
import hashlib
import hmac
import socket
from typing import Any

import orjson
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request

from integrations.deliveries import deliveries_enqueue
from integrations.models import Delivery, Destination
from tests.sources import source_default

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
EVENT = {"response_id": 42, "score": 9, "comment": "Great support", "person": {"userId": "user-1"}}


def standard_webhooks_verify(
    request: Request, secret: str, *, now: float, tolerance: int = 300
) -> dict[str, Any]:
    """Verify as a receiver would (standardwebhooks.com): HMAC-SHA256 over "{id}.{ts}.{body}" with the
    base64-decoded secret, any of the space-separated "v1,<sig>" entries, timestamp within tolerance."""
    msg_id = request.headers["webhook-id"]
    timestamp = request.headers["webhook-timestamp"]
    body = request.get_data()
    key = base64.b64decode(secret.split("_", 1)[1])
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    )
    given = [part.split(",", 1) for part in request.headers["webhook-signature"].split(" ")]
    assert any(v == "v1" and hmac.compare_digest(sig.encode(), expected) for v, sig in given), "bad signature"
    assert abs(now - int(timestamp)) <= tolerance, "timestamp outside the tolerance"
    return orjson.loads(body)


def closed_port() -> int:
    """A local port nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def destination_create(url: str, **fields: Any) -> Destination:
    destination = Destination(
        source=fields.pop("source", None) or source_default(),
        kind="webhook",
        name=fields.pop("name", "Ops webhook"),
        settings={"url": url, **fields.pop("settings", {})},
        call_types=fields.pop("call_types", ["response.created", "response.updated"]),
        timeout_seconds=fields.pop("timeout_seconds", 2.0),
        **fields,
    )
    destination.secrets_update({"signing_secret": SECRET})
    destination.save()
    return destination


@pytest.fixture
def webhook(db: None, httpserver: HTTPServer) -> Destination:
    return destination_create(httpserver.url_for("/hooks/feedback"))


def enqueue_one(key: str = "response-42-created", event_type: str = "response.created") -> Delivery:
    (delivery,) = deliveries_enqueue(
        event_type=event_type, data=EVENT, idempotency_key=key, source_id=source_default().pk
    )
    return delivery
