"""Generic signed webhook: POST each hub event as JSON, signed the Standard Webhooks way.

Body (built once at enqueue; every attempt sends the same bytes):

    {"type": "response.created", "timestamp": "2026-11-01T09:00:00.123Z", "data": {...}}

Headers: `webhook-id` (the delivery's idempotency key, the same on every attempt),
`webhook-timestamp` (unix seconds of this attempt) and `webhook-signature: v1,<base64 HMAC-SHA256
of "{id}.{timestamp}.{body}">`, keyed with the base64-decoded part of the `whsec_...` secret.
Receivers verify with any Standard Webhooks library and drop repeated webhook-ids.
"""

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Any

import orjson
from django.utils import timezone

from integrations.base import BaseConnector, ConnectorError, Problem, SettingsSchema
from integrations.http import HttpClient, HttpExchange
from integrations.models import Destination

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


def secret_generate() -> str:
    """A new signing secret in the Standard Webhooks form: whsec_ + base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key of a whsec_ secret; ConnectorError (permanent) when it is not one."""
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ConnectorError(
            "signing_secret is not a Standard Webhooks secret (whsec_ + base64).", permanent=True
        ) from None


def signature(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of "{msg_id}.{timestamp}.{body}"."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookConnector(BaseConnector):
    kind = "webhook"
    label = "Webhook (signed, Standard Webhooks)"
    settings_schema = SettingsSchema(
        required=("url",),
        defaults={"headers": {}},
        secrets=("signing_secret",),
        urls=("url",),
        help={
            "url": "Where to POST, e.g. https://ops.example.com/hooks/feedback.",
            "headers": 'Extra request headers, e.g. {"X-Team": "ops"}.',
            "signing_secret": "whsec_ + base64 of 32 random bytes (docs/operations.md shows a command).",
        },
    )

    def validate(self, *, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        problems = super().validate(settings=settings, secrets=secrets)
        if not isinstance(settings.get("headers", {}), dict):
            problems.append(
                Problem("settings", "'headers' must be an object of header names to values.", key="headers")
            )
        secret = secrets.get("signing_secret")
        if secret:
            try:
                secret_key(secret)
            except ConnectorError as exc:
                problems.append(Problem("secrets", exc.message, key="signing_secret"))
        return problems

    def build(self, *, destination: Destination, event_type: str, data: Mapping[str, Any]) -> Any | None:
        now = timezone.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")
        return {"type": event_type, "timestamp": now, "data": dict(data)}

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange:
        settings = self.settings_schema.settings_with_defaults(destination.settings)
        secret = destination.secret_values()["signing_secret"]
        body = orjson.dumps(payload)
        timestamp = int(time.time())
        headers = {
            **{str(k): str(v) for k, v in (settings.get("headers") or {}).items()},
            "Content-Type": "application/json",
            "webhook-id": idempotency_key,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature(
                secret=secret, msg_id=idempotency_key, timestamp=timestamp, body=body
            ),
        }
        return client.request("POST", settings["url"], headers=headers, body=body)
