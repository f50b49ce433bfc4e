"""Generic collector calls, inbound: any tool that can call a URL adds a contact to a collector, or
turns it on or off. Pure: no database, no network.

    POST /api.php?apiToken=<API link token>&cId=<id>&source=api&action=addContactToCollector
    {"email": "ann@example.com", "name": "Ann", "language": "nl", "user_id": "u1", "plan": "pro"}

The contact comes from the query string (minus the call's own parameters), then a form or JSON body:
`email` (required), `name`, `language`, `user_id`; any other field is kept as a trait. The action is
named by the call itself. These calls are not signed: the collector's API link token authenticates
them, and a collector whose kind signs its calls refuses them unless staff allow unsigned calls.
"""

from collections.abc import Mapping
from typing import Any, ClassVar

from hub.cleaning import json_object_parse
from hub.errors import RequestError
from integrations.inbound import (
    BaseHandler,
    InboundContact,
    NoContact,
    WebhookCall,
    WebhookRequest,
    contact_read,
)

ACTIONS = ("addContactToCollector", "turnOnCollector", "turnOffCollector")
# Query and body fields that are about the call, not the contact.
CALL_FIELDS = frozenset({"apiToken", "cId", "source", "action", "message_id", "messageId"})
CONTACT_FIELDS = frozenset({"email", "name", "language", "user_id", "userId"})


def call_fields(request: WebhookRequest) -> dict[str, Any]:
    """The contact's fields: the query string (minus the call's own parameters), then the body."""
    fields: dict[str, Any] = {key: value for key, value in request.query.items() if key not in CALL_FIELDS}
    if request.method != "POST":
        return fields
    if request.form is not None:
        fields.update(request.form.items())
    elif request.body.strip():
        fields.update(json_object_parse(request.body))
    return fields


def contact_from_body(body: Mapping[str, Any]) -> InboundContact | NoContact:
    """`email` (required), `name`, `language`, `user_id`; any other field is kept as a trait."""
    return contact_read(
        body,
        language="language",
        user_ids=("user_id", "userId"),
        no_email="the body needs an email (optionally name, language, user_id)",
        traits={k: v for k, v in body.items() if k not in CALL_FIELDS and k not in CONTACT_FIELDS},
    )


class GenericCallHandler(BaseHandler):
    """A collector's API link (source=api, or any name that is not a registered kind: it is kept as
    the caller's name). The caller waits for the decision."""

    kind: ClassVar[str] = "api"
    label: ClassVar[str] = "any tool (API link)"
    decides_inline: ClassVar[bool] = True

    def parse(self, *, request: WebhookRequest) -> WebhookCall:
        fields = call_fields(request)
        action = request.query.get("action", "")
        if action not in ACTIONS:
            raise RequestError(
                400, "unknown_action", f"action must be one of {', '.join(ACTIONS)}, not {action!r}."
            )
        return WebhookCall(
            name=f"webhook {action}",
            message_id=request.headers.get("Idempotency-Key", ""),
            topic=action,
            action=action,
            properties={
                "source": (request.query.get("source") or "api")[:50],
                "action": action,
                "body": fields,
            },
            contact=contact_from_body(fields),
        )
