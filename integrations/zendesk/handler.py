"""Zendesk webhooks, inbound: a trigger "ticket solved" calls a collector's link, which invites the
ticket's requester. Pure: no database, no network.

Zendesk signs every webhook request: `X-Zendesk-Webhook-Signature` is base64(HMAC-SHA256(timestamp +
raw body)) with the webhook's signing secret, the timestamp being `X-Zendesk-Webhook-Signature-Timestamp`
(ISO 8601, e.g. 2026-12-05T18:00:00Z). A timestamp further than `TOLERANCE` from the hub's clock is
refused, so a captured call cannot be replayed later; `X-Zendesk-Webhook-Invocation-Id` names one
invocation (a retry of it keeps it), so the event log stores each invocation once.

A trigger's payload is what staff write in Zendesk (Admin Center > Objects and rules > Triggers:
condition "Status is Solved", action "Notify active webhook"), with placeholders:

    {"event": "ticket.solved",
     "ticket": {"id": "{{ticket.id}}", "status": "{{ticket.status}}",
                "requester": {"id": "{{ticket.requester.id}}", "email": "{{ticket.requester.email}}",
                              "name": "{{ticket.requester.name}}", "locale": "{{ticket.requester.language}}",
                              "external_id": "{{ticket.requester.external_id}}"}}}

Without "event", the topic is "ticket.<status>" (Zendesk renders {{ticket.status}} as "Solved").
"""

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, ClassVar

from hub.cleaning import json_object_parse
from hub.errors import RequestError
from hub.timeparse import parse_datetime
from integrations.base import SettingsSchema
from integrations.inbound import (
    BaseHandler,
    InboundContact,
    NoContact,
    WebhookCall,
    WebhookRequest,
    contact_read,
    text_of,
)

SIGNATURE = "X-Zendesk-Webhook-Signature"
TIMESTAMP = "X-Zendesk-Webhook-Signature-Timestamp"
INVOCATION = "X-Zendesk-Webhook-Invocation-Id"
WEBHOOK = "X-Zendesk-Webhook-Id"
# How far a signature's timestamp may be from the hub's clock (Zendesk retries within minutes).
TOLERANCE = timedelta(minutes=5)


def signature_make(*, body: bytes, timestamp: str, secret: str) -> str:
    """The X-Zendesk-Webhook-Signature Zendesk sends for `body` at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def ticket_requester(body: Mapping[str, Any]) -> InboundContact | NoContact:
    """The requester of the ticket: `ticket.requester` {email, name, locale, external_id, id}."""
    ticket = body.get("ticket")
    requester = ticket.get("requester") if isinstance(ticket, dict) else None
    if not isinstance(requester, dict):
        return NoContact("the payload names no ticket.requester")
    zendesk_id = text_of(requester.get("id"))
    return contact_read(
        requester,
        language="locale",
        user_ids=("external_id",),
        no_email="the ticket's requester has no email",
        traits={"zendesk_user_id": zendesk_id} if zendesk_id else {},
    )


# Topic -> how to find the customer in the payload. Add a topic here (with a fixture named after it) to
# let collectors act on it; any other topic is recorded and ignored.
TOPIC_CONTACTS: dict[str, Callable[[Mapping[str, Any]], InboundContact | NoContact]] = {
    "ticket.solved": ticket_requester,
}


def _topic(body: Mapping[str, Any]) -> str:
    event = text_of(body.get("event"), 100)
    if event:
        return event
    ticket = body.get("ticket")
    status = text_of(ticket.get("status"), 50).lower() if isinstance(ticket, dict) else ""
    if not status:
        raise RequestError(400, "invalid_payload", "A Zendesk payload needs an event or a ticket.status.")
    return f"ticket.{status}"


class ZendeskHandler(BaseHandler):
    """A collector's Zendesk link: a webhook that a trigger on "Status is Solved" notifies."""

    kind: ClassVar[str] = "zendesk"
    label: ClassVar[str] = "Zendesk"
    settings_schema: ClassVar[SettingsSchema] = SettingsSchema(
        secrets=("signing_secret",),
        help={"signing_secret": "The webhook's signing secret (Zendesk: the webhook's page, Reveal secret)."},
    )
    signing_secret: ClassVar[str] = "signing_secret"  # noqa: S105 - a secret's name, not a secret
    signature_header: ClassVar[str] = SIGNATURE
    default_actions: ClassVar[Mapping[str, str]] = {"ticket.solved": "addContactToCollector"}

    def verify(self, *, request: WebhookRequest, secret: str, now: datetime) -> None:
        stamp = (request.headers.get(TIMESTAMP) or "").strip()
        given = (request.headers.get(SIGNATURE) or "").strip()
        expected = signature_make(body=request.body, timestamp=stamp, secret=secret) if secret else ""
        if not (stamp and given and expected and hmac.compare_digest(expected, given)):
            raise RequestError(
                401,
                "invalid_signature",
                f"{SIGNATURE} is missing or does not match {TIMESTAMP} and the body "
                "(base64 HMAC-SHA256 with the webhook's signing secret).",
            )
        moment = parse_datetime(stamp)
        if moment is None or abs(now - moment) > TOLERANCE:
            raise RequestError(
                401,
                "stale_timestamp",
                f"{TIMESTAMP} is not within {int(TOLERANCE.total_seconds() // 60)} minutes of the hub's "
                "clock: a call is taken only when it is sent.",
            )

    def parse(self, *, request: WebhookRequest) -> WebhookCall:
        body = json_object_parse(request.body)
        topic = _topic(body)
        read = TOPIC_CONTACTS.get(topic)
        invocation = text_of(request.headers.get(INVOCATION), 80)
        if not invocation:  # the same call twice is still one: its signed timestamp and body
            stamp = (request.headers.get(TIMESTAMP) or "").encode()
            invocation = "body-" + hashlib.sha256(stamp + b"\n" + request.body).hexdigest()[:40]
        ticket = body.get("ticket")
        return WebhookCall(
            name=f"zendesk {topic}",
            message_id=f"zendesk-{invocation}",
            topic=topic,
            properties={
                "source": "zendesk",
                "topic": topic,
                "webhook": text_of(request.headers.get(WEBHOOK), 80),
                "invocation": invocation,
                "ticket": text_of(ticket.get("id")) if isinstance(ticket, dict) else "",
                "body": body,
            },
            contact=read(body) if read is not None else None,
        )
