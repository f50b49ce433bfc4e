"""Intercom webhooks, inbound: verify, parse, and find the customer a notification is about. Pure: no
database, no network (`IntercomHandler.contact_lookup` calls client.py when the hub decides).

A collector of kind "intercom" (integrations/inbound.py, integrations/registry.py) takes them on its
link with source=intercom; the raw body is signed in the X-Hub-Signature header. Facts:
shared/reference/protocols.md §5 and gotchas 9-10 (HMAC-SHA1 of the raw bytes with the app's client
secret, `sha1=` prefix; `ping` has a null id; 2.x conversations name the customer in `contacts`
without an email).

Each topic the hub can act on has a small function in `TOPIC_CONTACTS` that finds the customer in the
notification's item; any other topic is `UnsupportedTopic`, recorded and ignored by the caller.
"""

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from hub.cleaning import json_object_parse
from hub.errors import RequestError
from integrations.base import SettingsSchema
from integrations.inbound import BaseHandler, InboundContact, NoContact, WebhookCall, WebhookRequest

PING = "ping"
SIGNATURE_PREFIX = "sha1="
# Intercom's people: "user" and "lead" (API ≤ 2.1) and "contact" (2.x). An "admin" or "bot" is staff.
CUSTOMER_TYPES = frozenset({"user", "lead", "contact"})


@dataclass(frozen=True, slots=True)
class Notification:
    """The envelope of one webhook call: {"type": "notification_event", "id", "topic", "data": {"item"}}."""

    id: str | None  # null for ping
    topic: str
    app_id: str
    item: dict[str, Any]
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class IntercomContact:
    """The customer a notification is about. Without `email`, `intercom_id` names whom to look up."""

    email: str = ""
    name: str = ""
    external_id: str = ""  # the customer's own id (legacy user.user_id, 2.x external_id)
    intercom_id: str = ""  # Intercom's id of the contact (GET /contacts/{id})


@dataclass(frozen=True, slots=True)
class UnsupportedTopic:
    """A topic the hub cannot read a customer from (e.g. contact.created): recorded, nothing done."""

    topic: str


def signature_valid(raw: bytes, header: str | None, secret: str) -> bool:
    """`X-Hub-Signature: sha1=<hex>` is HMAC-SHA1 of the raw body with `secret` (constant-time check)."""
    if not header or not secret:
        return False
    header = header.strip()
    if not header.lower().startswith(SIGNATURE_PREFIX):
        return False
    expected = hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()
    return hmac.compare_digest(expected, header[len(SIGNATURE_PREFIX) :].strip().lower())


def signature_make(raw: bytes, secret: str) -> str:
    """The header value Intercom sends for `raw` (for tests and the admin's "try it" hints)."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), raw, hashlib.sha1).hexdigest()


def _text(value: object) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""


def notification_parse(raw: bytes) -> Notification:
    body = json_object_parse(raw)
    topic = _text(body.get("topic"))
    if not topic:
        raise RequestError(400, "invalid_notification", "An Intercom notification needs a topic.")
    data = body.get("data")
    item = data.get("item") if isinstance(data, dict) else None
    return Notification(
        id=_text(body.get("id")) or None,
        topic=topic,
        app_id=_text(body.get("app_id")),
        item=item if isinstance(item, dict) else {},
        body=body,
    )


def _person(value: object) -> IntercomContact | None:
    """A customer object (user, lead or contact) as an IntercomContact; None for staff or junk."""
    if not isinstance(value, dict) or value.get("type") not in CUSTOMER_TYPES:
        return None
    contact = IntercomContact(
        email=_text(value.get("email")),
        name=_text(value.get("name")),
        external_id=_text(value.get("user_id")) or _text(value.get("external_id")),
        intercom_id=_text(value.get("id")),
    )
    return contact if contact.email or contact.intercom_id else None


def conversation_contact(item: dict[str, Any]) -> IntercomContact | NoContact:
    """The customer of a conversation: the legacy `item.user`, else `item.source.author` when it is a
    customer, else the first of `item.contacts` (no email there: the caller looks it up)."""
    legacy = _person(item.get("user"))
    if legacy is not None and legacy.email:
        return legacy
    source = item.get("source")
    author = _person(source.get("author")) if isinstance(source, dict) else None
    if author is not None and author.email:
        return author
    contacts = item.get("contacts")
    listed = contacts.get("contacts") if isinstance(contacts, dict) else None
    for candidate in listed if isinstance(listed, list) else []:
        if isinstance(candidate, dict):
            found = _person({"type": "contact", **candidate})
            if found is not None:
                return found
    for fallback in (legacy, author):  # a customer named without email: look them up by id
        if fallback is not None:
            return fallback
    return NoContact(
        "the conversation names no customer (no item.user, no customer author, no item.contacts)"
    )


# Topic -> how to find the customer in its item. Everything about a conversation names its customer the
# same way; add a topic here (with a fixture named after it) to let collectors act on it.
TOPIC_CONTACTS: dict[str, Callable[[dict[str, Any]], IntercomContact | NoContact]] = {
    "conversation.admin.closed": conversation_contact,
    "conversation.admin.replied": conversation_contact,
    "conversation.admin.assigned": conversation_contact,
    "conversation.admin.snoozed": conversation_contact,
    "conversation.admin.opened": conversation_contact,
    "conversation.user.created": conversation_contact,
    "conversation.user.replied": conversation_contact,
}


def contact_find(notification: Notification) -> IntercomContact | NoContact | UnsupportedTopic:
    read = TOPIC_CONTACTS.get(notification.topic)
    if read is None:
        return UnsupportedTopic(notification.topic)
    return read(notification.item)


class IntercomHandler(BaseHandler):
    """A collector's Intercom link: notifications of an Intercom app, signed with its client secret."""

    kind: ClassVar[str] = "intercom"
    label: ClassVar[str] = "Intercom"
    settings_schema: ClassVar[SettingsSchema] = SettingsSchema(
        optional_secrets=("client_secret", "access_token"),
        help={
            "client_secret": "The Intercom app's client secret: when set, the collector's Intercom link "
            "takes only notifications with a valid X-Hub-Signature, and its API link only if unsigned "
            "calls are allowed.",
            "access_token": "Optional: lets the hub look up a contact's email (GET /contacts/{id}) when a "
            "notification carries none.",
        },
    )
    signing_secret: ClassVar[str] = "client_secret"  # noqa: S105 - a secret's name, not a secret
    lookup_secret: ClassVar[str] = "access_token"  # noqa: S105 - a secret's name, not a secret
    signature_header: ClassVar[str] = "X-Hub-Signature"
    default_actions: ClassVar[Mapping[str, str]] = {"conversation.admin.closed": "addContactToCollector"}

    def verify(self, *, request: WebhookRequest, secret: str, now: datetime) -> None:
        if not signature_valid(request.body, request.headers.get("X-Hub-Signature"), secret):
            raise RequestError(
                401,
                "invalid_signature",
                "X-Hub-Signature is missing or does not match the body (HMAC-SHA1 with the client secret).",
            )

    def parse(self, *, request: WebhookRequest) -> WebhookCall:
        notification = notification_parse(request.body)
        topic = notification.topic
        found = contact_find(notification)
        contact: InboundContact | NoContact | None = None
        if isinstance(found, IntercomContact):
            contact = InboundContact(
                email=found.email, name=found.name, user_id=found.external_id, lookup_id=found.intercom_id
            )
        elif isinstance(found, NoContact):
            contact = found
        return WebhookCall(
            name=f"intercom {topic}",
            message_id=notification.id or f"intercom-{hashlib.sha256(request.body).hexdigest()[:40]}",
            topic=topic,
            properties={
                "source": "intercom",
                "topic": topic,
                "notification": notification.id,
                "app_id": notification.app_id,
                "body": notification.body,
            },
            contact=contact,
            ping=topic == PING,
        )

    def contact_lookup(
        self, *, lookup_id: str, settings: Mapping[str, Any], secrets: Mapping[str, str]
    ) -> tuple[InboundContact, str] | None:
        from integrations.intercom import client  # client.py reads this module's IntercomContact

        token = secrets.get(self.lookup_secret, "")
        if not token:
            return None
        found, language = client.contact_fetch(contact_id=lookup_id, access_token=token)
        return InboundContact(email=found.email, name=found.name, user_id=found.external_id), language
