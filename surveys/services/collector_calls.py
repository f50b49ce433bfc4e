"""Receiving a collector call: dispatched on `source=<kind>` through the inbound registry
(integrations/registry.py `webhook_handler_get`), verified and parsed by that kind's handler
(integrations/<vendor>/handler.py), recorded in the event log under the collector's source.

No branch here names a vendor: what differs between kinds is in their handlers (`signing_secret`,
`decides_inline`, `default_actions`, `contact_lookup`). A call the vendor does not sign (the generic
API link) is refused, and logged without its body, when the collector has its kind's signing secret
(services/collector_links.py `collector_unsigned_refusal`).
"""

import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
from django.db import transaction
from django.utils import timezone

from hub.cleaning import clean_json, clean_text
from hub.errors import RequestError
from integrations.inbound import InboundContact, NoContact, WebhookCall, WebhookHandler, WebhookRequest
from integrations.models import InboundEvent
from integrations.registry import webhook_handler_get
from integrations.segment.calls import SegmentCall
from integrations.segment.handler import ParsedEvent
from integrations.services import inbound_events_store
from surveys.models import Collector
from surveys.services.collector_contacts import contact_user_id, email_checked, lookup_property
from surveys.services.collector_links import (
    ADD,
    TURN_ON,
    collector_signing_secret,
    collector_unsigned_refusal,
)
from surveys.services.collector_outcome import Outcome
from surveys.services.collectors import collector_event_process

logger = logging.getLogger(__name__)

_ID_MAX = 255
_MESSAGE_ID_MAX = 100
DUPLICATE = "already received (same message id): nothing done"


@dataclass
class _Call:
    """One received call, as the event log names it: e.g. "intercom conversation.admin.closed"."""

    collector: Collector
    kind: str
    name: str
    received_at: datetime
    message_id: str
    properties: dict[str, Any]

    def event(self, *, contact: InboundContact | None = None, rejected: str = "") -> ParsedEvent:
        """The call as a track event of the collector's source. The contact rides in context.traits,
        which the customer-records handler merges into the person; the call itself is in properties."""
        source = self.collector.source
        user_id = ""
        if contact is not None and source is not None:
            user_id = contact_user_id(source=source, contact=contact, kind=self.kind)
        user_id = clean_text(user_id, max_length=_ID_MAX)
        message_id = clean_text(self.message_id, max_length=_MESSAGE_ID_MAX)
        traits: dict[str, Any] = {}
        if contact is not None:
            traits = {
                **contact.traits,
                "email": contact.email,
                "name": contact.name,
                "language": contact.language,
            }
            traits = {key: value for key, value in traits.items() if value not in ("", None)}
        payload: dict[str, Any] = {
            "type": "track",
            "messageId": message_id,
            "userId": user_id or None,
            "event": self.name,
            "timestamp": self.received_at,
            "receivedAt": self.received_at,
            "context": {"traits": traits} if traits else {},
            "properties": {"collector": self.collector.pk, **self.properties},
        }
        # Storable whatever the caller sent (U+0000, depth); the view refused deep bodies already.
        payload, _ = clean_json(payload)
        encoded = orjson.dumps(payload, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)
        return ParsedEvent(
            message_id=message_id,
            type=SegmentCall.TRACK,
            user_id=user_id,
            anonymous_id="",
            event=self.name[:255],
            timestamp=self.received_at,
            original_timestamp=None,
            sent_at=None,
            payload=encoded.decode(),
            rejected=bool(rejected),
            reason=rejected,
        )

    def store(self, event: ParsedEvent) -> int | None:
        """Store the call; the id of the new event, or None for a duplicate (or a rejected call)."""
        source = self.collector.source
        assert source is not None, "a collector gets its source when it is created"
        ids = inbound_events_store(source=source, received_at=self.received_at, events=[event])
        return ids[0] if ids else None

    def record(self, outcome: Outcome, contact: InboundContact | None = None) -> Outcome:
        """Store a call whose outcome is known already (its processing after commit finds nothing to do)."""
        event_id = self.store(self.event(contact=contact))
        if event_id is None:
            return Outcome("duplicate", DUPLICATE)
        InboundEvent.objects.filter(pk=event_id).update(
            status=outcome.event_status, reason=outcome.message[:2000], processed_at=timezone.now()
        )
        return outcome

    def pending(self, contact: InboundContact) -> int | None:
        """Store an add-contact call whose decision is to come (None: a duplicate)."""
        event_id = self.store(self.event(contact=contact))
        if event_id is not None:
            InboundEvent.objects.filter(pk=event_id).update(status=InboundEvent.Status.PENDING)
        return event_id

    def reject(self, reason: str, *, http_status: int = 200) -> Outcome:
        """Recorded as rejected, with the reason."""
        self.store(self.event(rejected=reason))
        return Outcome("rejected", reason, http_status=http_status, code="no_contact")

    def refuse(self, refusal: Outcome) -> Outcome:
        """Recorded as rejected without what the call carried: only that it came, and why it was refused."""
        self.properties.pop("body", None)
        self.store(self.event(rejected=refusal.message))
        return refusal


def collector_switch(*, collector: Collector, on: bool) -> Outcome:
    Collector.objects.filter(pk=collector.pk).update(enabled=on, updated_at=timezone.now())
    collector.enabled = on
    if on:
        return Outcome("turned_on", "collector turned on: added contacts are invited")
    return Outcome("turned_off", "collector turned off: added contacts are recorded, nobody is invited")


def _add_refused(collector: Collector) -> Outcome | None:
    """Why this collector cannot invite anyone now (off, or a channel without a backend)."""
    if not collector.enabled:
        return Outcome(
            "collector_off", "collector off: nothing sent (turn it on with action=turnOnCollector)"
        )
    if collector.channel == Collector.Channel.SMS:
        return Outcome(
            "not_configured", "SMS is not configured: this hub has no SMS backend yet, nothing sent"
        )
    return None


def _verified(
    *, collector: Collector, handler: WebhookHandler, request: WebhookRequest, now: datetime
) -> bool:
    """Check a signed kind's call: refused (RequestError) unless signed with the collector's secret, when
    it has one (always, when the kind requires it). True when the signature was checked."""
    if handler.kind != collector.kind:
        raise RequestError(
            400,
            "wrong_source",
            f"This collector takes {webhook_handler_get(collector.kind).label} calls "
            f"(source={collector.kind}), not source={handler.kind}.",
        )
    secret = collector_signing_secret(collector)
    if secret or handler.signing_secret in handler.settings_schema.secrets:
        handler.verify(request=request, secret=secret, now=now)
        return True
    return False


def collector_call_receive(
    *, collector: Collector, source: str, request: WebhookRequest, link: str, received_at: datetime
) -> Outcome:
    """A call through `link` with `source=<source>`: its kind's handler verifies and parses it, then it
    turns the collector on or off, or adds the contact: decided now when the caller waits for it
    (generic calls), else after commit by `surveys.tasks.collector_process_event`."""
    handler = webhook_handler_get(source)
    signed = False
    if handler.signing_secret:
        signed = _verified(collector=collector, handler=handler, request=request, now=received_at)
    parsed = handler.parse(request=request)
    properties = (
        {**parsed.properties, "signed": signed} if handler.signing_secret else dict(parsed.properties)
    )
    call = _Call(
        collector=collector,
        kind=handler.kind,
        name=parsed.name,
        received_at=received_at,
        message_id=parsed.message_id[:_MESSAGE_ID_MAX] or f"hub-{uuid.uuid4()}",
        properties=properties,
    )
    if not handler.signing_secret:
        refusal = collector_unsigned_refusal(collector=collector, link=link)
        if refusal is not None:
            return call.refuse(refusal)
    with transaction.atomic():
        outcome_or_id = _receive(call, parsed, handler)
        if isinstance(outcome_or_id, Outcome):
            return outcome_or_id
        if handler.decides_inline:
            return collector_event_process(event_id=outcome_or_id)
        transaction.on_commit(lambda: _enqueue(outcome_or_id))
    return Outcome("accepted", "received: the invitation is decided in the background (see the event log)")


def _receive(call: _Call, parsed: WebhookCall, handler: WebhookHandler) -> Outcome | int:
    """Record the call: its outcome when it needs no decision, else the id of its pending event."""
    collector = call.collector
    if parsed.ping:
        return call.record(Outcome("ping", "ping acknowledged"))
    topic = parsed.topic
    action = parsed.action or (collector.topic_actions or {}).get(topic)
    if action not in Collector.ACTIONS:
        return call.record(Outcome("ignored", f"ignored: topic {topic} is not mapped to an action"))
    call.properties["action"] = action
    if action != ADD:
        return call.record(collector_switch(collector=collector, on=action == TURN_ON))
    found = parsed.contact
    rejected_status = 400 if handler.decides_inline else 200
    if found is None:
        return call.record(Outcome("ignored", f"ignored: the hub cannot read a customer from {topic}"))
    if isinstance(found, NoContact):
        return call.reject(f"no contact: {found.reason}", http_status=rejected_status)
    contact = replace(found, email=email_checked(found.email))
    if not contact.email:
        missing = f"email not valid: {found.email[:80]!r}" if found.email else "no email in the notification"
        if not handler.lookup_secret:  # this kind looks nobody up
            return call.reject(f"no contact: {missing}", http_status=rejected_status)
        if not contact.lookup_id or not collector.secret_values().get(handler.lookup_secret):
            secret = handler.lookup_secret.replace("_", " ")
            return call.reject(
                f"no contact: {missing}, and no {handler.label} {secret} on the collector to look it up",
                http_status=rejected_status,
            )
        call.properties[lookup_property(handler.kind)] = contact.lookup_id
    refused = _add_refused(collector)
    if refused is not None:
        return call.record(refused, contact)
    event_id = call.pending(contact)
    if event_id is None:
        return Outcome("duplicate", DUPLICATE)
    return event_id


def _enqueue(event_id: int) -> None:
    from surveys.tasks import collector_process_event

    try:
        collector_process_event.delay(event_id)
    except Exception:  # the broker is down: collector_events_sweep takes it later
        logger.warning(
            "could not enqueue collector event %s; the sweeper will decide it", event_id, exc_info=True
        )
