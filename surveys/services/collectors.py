"""Collectors: webhook calls that invite a contact to a survey (SurveyLab's model; e.g. "an agent closed
an Intercom conversation -> survey that customer").

    POST /api.php?apiToken=<token>&cId=<id>&source=intercom&action=addContactToCollector

1. The view (surveys/collector_views.py) authenticates the collector and tells which of its links was
   used (`collector_authenticate`), and hands the call to `collector_call_receive` (a generic JSON or
   form body) or `collector_intercom_receive` (a signed Intercom notification, parsed by
   integrations/intercom/handler.py).
2. The call is stored in the event log under the collector's own source, deduped on (source, message
   id), as a Segment-shaped track call whose `context.traits` carry the contact: so the pipeline's
   customer-records handler finds or creates the person (by userId; traits merged by time; erased
   people are not recorded). Calls that need no decision (ping, ignored topics, turning the collector
   on or off, a collector that is off) are recorded with their outcome at once.
3. `collector_event_process` runs that processing for the event, looks up an Intercom contact's email
   if needed, decides with `eligibility_decide` and schedules the invitation; the outcome goes on the
   event (status and reason) and back to the caller.

Generic calls are decided inline, so the caller is told what happened. Intercom calls are acknowledged
at once and decided by a Celery task after commit (Intercom favours endpoints answering within 500 ms).

Signing: the Intercom link and the links for other tools carry different tokens. Once the collector
has an Intercom client secret, the Intercom link takes only signed notifications (a generic call on it,
however its `source` or method is changed, is refused 401), and the API link takes unsigned generic
calls only if staff switched `unsigned_calls` on (else 403). Refusals are logged as rejected events
without the call's body.
"""

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import orjson
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from customers.models import Person
from customers.selectors import people_find, person_find
from customers.services.people import person_refresh_fields
from customers.traits import person_fields, traits_merge, traits_normalise
from hub.cleaning import clean_json, clean_text, parse_id
from hub.errors import RequestError
from integrations.base import ConnectorError
from integrations.intercom import client as intercom_client
from integrations.intercom.handler import (
    PING,
    NoContact,
    UnsupportedTopic,
    contact_find,
    notification_parse,
    signature_valid,
)
from integrations.models import ERASED_PAYLOAD, InboundEvent, Source
from integrations.segment.calls import SegmentCall
from integrations.segment.handler import ParsedEvent
from integrations.services import inbound_events_process, inbound_events_store, source_create
from surveys.models import Collector, Invitation, Survey, SurveyPolicy
from surveys.services.eligibility import COUNTED, Decision, History, eligibility_decide, histories_load
from surveys.services.windows import send_window_next

logger = logging.getLogger(__name__)

ADD, TURN_ON, TURN_OFF = Collector.ACTIONS
# Which of a collector's links a call came through (its token tells).
INTERCOM_LINK, API_LINK = "intercom", "api"
# The reason an add-contact event carries until its decision is recorded (and the sweeper's marker).
PENDING = "collector: waiting for the decision"
# Query and body fields that are about the call, not the contact.
CALL_FIELDS = frozenset({"apiToken", "cId", "source", "action", "message_id", "messageId"})
CONTACT_FIELDS = frozenset({"email", "name", "language", "user_id", "userId"})
_ID_MAX = 255
_MESSAGE_ID_MAX = 100


class CollectorRetry(Exception):
    """The decision cannot be made yet (the event is being processed, Intercom is unreachable)."""

    def __init__(self, message: str, countdown: float = 5.0) -> None:
        super().__init__(message)
        self.countdown = countdown


@dataclass(frozen=True)
class Contact:
    """Whom to invite: from a generic body, or from an Intercom notification (then maybe by id only)."""

    email: str = ""
    name: str = ""
    language: str = ""
    user_id: str = ""
    traits: dict[str, Any] = field(default_factory=dict)
    intercom_id: str = ""  # Intercom's contact id, to look the email up when it is missing


@dataclass
class Outcome:
    """What a call led to, for the caller and the event log.

    status: invited, already_surveyed, suppressed, not_eligible, collector_off, not_configured,
    turned_on, turned_off, accepted (Intercom: decided in the background), duplicate, ping, ignored,
    rejected, failed.
    """

    status: str
    message: str
    http_status: int = 200
    code: str = ""
    invitation: Invitation | None = None

    @property
    def event_status(self) -> str:
        if self.status == "rejected":
            return InboundEvent.Status.REJECTED
        if self.status == "failed":
            return InboundEvent.Status.FAILED
        return InboundEvent.Status.PROCESSED

    def as_json(self, collector: Collector) -> dict[str, Any]:
        data: dict[str, Any] = {
            "success": self.status not in ("rejected", "failed"),
            "status": self.status,
            "message": self.message,
            "collector": collector.pk,
            "enabled": collector.enabled,
        }
        if self.invitation is not None:
            data["invitation"] = {"id": self.invitation.pk, "due_at": self.invitation.due_at.isoformat()}
        return data


# --- tokens, links, creation ---------------------------------------------------------------------------


def collector_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def collector_tokens_set(collector: Collector) -> None:
    """Give the collector new tokens for its Intercom link and its other links (not saved): the old
    links stop working."""
    collector.token = secrets.token_urlsafe(24)
    collector.token_hash = collector_token_hash(collector.token)
    collector.generic_token = secrets.token_urlsafe(24)
    collector.generic_token_hash = collector_token_hash(collector.generic_token)


def collector_source_ensure(collector: Collector) -> Source:
    """The collector's source (collector-<id>), created with it: where its calls and contacts live.

    Its write key is disabled: the source takes webhook calls through the collector only.
    """
    if collector.source_id is not None:
        return collector.source  # type: ignore[return-value]
    slug = f"collector-{collector.pk}"
    source = Source.objects.filter(slug=slug).first()
    if source is None:
        source, _ = source_create(name=f"Collector: {collector.name}"[:200], slug=slug)
        source.write_keys.update(enabled=False)
    collector.source = source
    Collector.objects.filter(pk=collector.pk).update(source=source)
    return source


def collector_create(
    *,
    survey: Survey,
    name: str,
    channel: str = Collector.Channel.EMAIL,
    enabled: bool = True,
    delay_minutes: int = 0,
    resurvey_days: int = 0,
    topic_actions: dict[str, str] | None = None,
    intercom_client_secret: str = "",
    intercom_access_token: str = "",
    unsigned_calls: bool = False,
    source: Source | None = None,
) -> Collector:
    """A collector with fresh tokens and, unless `source` is given, its own source."""
    collector = Collector(
        survey=survey,
        name=name,
        channel=channel,
        enabled=enabled,
        delay_minutes=delay_minutes,
        resurvey_days=resurvey_days,
        intercom_client_secret=intercom_client_secret,
        intercom_access_token=intercom_access_token,
        unsigned_calls=unsigned_calls,
        source=source,
    )
    if topic_actions is not None:
        collector.topic_actions = topic_actions
    return collector_save(collector=collector)


def collector_save(*, collector: Collector) -> Collector:
    """Save a collector; a new one gets its tokens and, unless it has one, its own source."""
    if collector.pk is None:
        collector_tokens_set(collector)
    with transaction.atomic():
        collector.save()
        collector_source_ensure(collector)
    return collector


# A collector's Intercom credentials: write-only, shown only as "set" or not.
INTERCOM_SECRETS = ("intercom_client_secret", "intercom_access_token")


def collector_secrets_update(
    *, collector: Collector, secrets: Mapping[str, str], forget: bool = False
) -> None:
    """Change the collector's Intercom credentials (not saved): `forget` clears them first; then each
    value of `secrets` (by field name) replaces the stored one, and an empty one keeps it."""
    for name in INTERCOM_SECRETS:
        if forget:
            setattr(collector, name, "")
        if secrets.get(name):
            setattr(collector, name, secrets[name])


def collector_tokens_rotate(*, collector: Collector) -> None:
    """New tokens for the collector's links, saved: the old links stop working."""
    collector_tokens_set(collector)
    collector.save(update_fields=["token", "token_hash", "generic_token", "generic_token_hash", "updated_at"])


def collector_links(collector: Collector) -> dict[str, str]:
    """The links, ready to copy (they hold the tokens: show them masked). The Intercom link has its own
    token, so that it cannot be reused for unsigned calls once a client secret is set."""

    def base(token: str) -> str:
        return f"{settings.HUB_BASE_URL}/api.php?" + urlencode({"apiToken": token, "cId": collector.pk})

    generic = base(collector.generic_token)
    return {
        "api_link": f"{generic}&source=api&action={ADD}",
        "intercom_link": f"{base(collector.token)}&source=intercom&action={ADD}",
        "turn_on_link": f"{generic}&source=api&action={TURN_ON}",
        "turn_off_link": f"{generic}&source=api&action={TURN_OFF}",
    }


def collector_authenticate(*, collector_id: str, token: str) -> tuple[Collector, str] | None:
    """The collector whose id and token these are, with the link the token belongs to (INTERCOM_LINK or
    API_LINK), or None. Compared by hash, in constant time, against both tokens."""
    collector = None
    pk = parse_id(collector_id)
    if pk is not None:
        collector = Collector.objects.select_related("survey", "source").filter(pk=pk).first()
    given = collector_token_hash(token[:200])
    missing = "-" * 64
    intercom = hmac.compare_digest(given, collector.token_hash if collector is not None else missing)
    generic = hmac.compare_digest(given, (collector.generic_token_hash if collector else "") or missing)
    if collector is None or not (intercom or generic):
        return None
    return collector, API_LINK if generic else INTERCOM_LINK


def collector_unsigned_refusal(*, collector: Collector, link: str) -> Outcome | None:
    """Why an unsigned generic call through `link` is refused (None: accepted). Only a collector with an
    Intercom client secret refuses: its Intercom link always, its API link unless staff allow it."""
    if not collector.intercom_client_secret:
        return None
    if link == INTERCOM_LINK:
        return Outcome(
            "rejected",
            "refused: this is the collector's Intercom link, which takes only signed Intercom notifications "
            "(source=intercom, X-Hub-Signature) since the collector has an Intercom client secret; other "
            "tools use the collector's API link",
            http_status=401,
            code="signature_required",
        )
    if not collector.unsigned_calls:
        return Outcome(
            "rejected",
            "refused: the collector has an Intercom client secret, so unsigned calls from other tools are "
            "off; staff can allow them on the collector (accept unsigned calls from other tools)",
            http_status=403,
            code="unsigned_calls_off",
        )
    return None


# --- reading a contact (pure) ---------------------------------------------------------------------------


def _text(value: object, limit: int) -> str:
    if isinstance(value, str):
        return value.strip()[:limit]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)[:limit]
    return ""


def email_checked(email: str) -> str:
    """The email as the customer records keep it (validated, lower-cased), or "" if it is not one."""
    return person_fields({"email": email}).email if email else ""


def contact_from_body(body: Mapping[str, Any]) -> Contact | str:
    """A generic call's contact: `email` (required), `name`, `language`, `user_id`; any other field
    is kept as a trait. Returns the reason when there is no usable contact."""
    raw_email = _text(body.get("email"), 254)
    if not raw_email:
        return "no contact: the body needs an email (optionally name, language, user_id)"
    email = email_checked(raw_email)
    if not email:
        return f"no contact: email not valid: {raw_email[:80]!r}"
    traits = {
        key: value for key, value in body.items() if key not in CALL_FIELDS and key not in CONTACT_FIELDS
    }
    return Contact(
        email=email,
        name=_text(body.get("name"), 400),
        language=_text(body.get("language"), 35),
        user_id=_text(body.get("user_id"), _ID_MAX) or _text(body.get("userId"), _ID_MAX),
        traits=traits,
    )


# --- recording calls in the event log -------------------------------------------------------------------


def _user_id(source: Source, contact: Contact) -> str:
    """Who the call is about within the source: the caller's user id, else the person already known by
    this email, else the email itself (or Intercom's id while the email is still to be looked up)."""
    if contact.user_id:
        return contact.user_id
    if contact.email:
        key = (source.pk, contact.email)
        known = people_find(emails=[key]).by_email.get(key)
        return (known and known.user_id) or contact.email[:_ID_MAX]
    return f"intercom:{contact.intercom_id}"[:_ID_MAX]


@dataclass
class _Call:
    """One received call, as the event log names it: e.g. "intercom conversation.admin.closed"."""

    collector: Collector
    name: str
    received_at: datetime
    message_id: str
    properties: dict[str, Any]

    def event(self, *, contact: Contact | None = None, rejected: str = "", reason: str = "") -> ParsedEvent:
        """The call as a track event of the collector's source. The contact rides in context.traits,
        which the customer-records handler merges into the person; the call itself is in properties."""
        source = self.collector.source
        user_id = _user_id(source, contact) if contact is not None and source is not None else ""
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
            reason=rejected or reason,
        )

    def store(self, event: ParsedEvent) -> int | None:
        """Store the call; the id of the new event, or None for a duplicate (or a rejected call)."""
        source = self.collector.source
        assert source is not None, "a collector gets its source when it is created"
        ids = inbound_events_store(source=source, received_at=self.received_at, events=[event])
        return ids[0] if ids else None

    def record(self, outcome: Outcome, contact: Contact | None = None) -> Outcome:
        """Store a call whose outcome is known already (its processing after commit finds nothing to do)."""
        event_id = self.store(self.event(contact=contact))
        if event_id is None:
            return Outcome("duplicate", "already received (same message id): nothing done")
        InboundEvent.objects.filter(pk=event_id).update(
            status=outcome.event_status, reason=outcome.message[:2000], processed_at=timezone.now()
        )
        return outcome

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


def collector_call_receive(
    *,
    collector: Collector,
    action: str,
    fields: Mapping[str, Any],
    received_at: datetime,
    message_id: str = "",
    caller: str = "api",
    link: str = API_LINK,
) -> Outcome:
    """A generic call through `link`: turn the collector on or off, or add the contact in `fields` and
    decide now. Refused, and logged without its body, when the collector wants it signed."""
    if action not in Collector.ACTIONS:
        raise RequestError(
            400, "unknown_action", f"action must be one of {', '.join(Collector.ACTIONS)}, not {action!r}."
        )
    call = _Call(
        collector=collector,
        name=f"webhook {action}",
        received_at=received_at,
        message_id=message_id[:_MESSAGE_ID_MAX] or f"hub-{uuid.uuid4()}",
        properties={"source": caller[:50], "action": action, "body": dict(fields)},
    )
    refusal = collector_unsigned_refusal(collector=collector, link=link)
    if refusal is not None:
        return call.refuse(refusal)
    with transaction.atomic():
        if action != ADD:
            return call.record(collector_switch(collector=collector, on=action == TURN_ON))
        contact = contact_from_body(fields)
        if isinstance(contact, str):
            return call.reject(contact, http_status=400)
        refused = _add_refused(collector)
        if refused is not None:
            return call.record(refused, contact)
        event_id = call.store(call.event(contact=contact, reason=PENDING))
        if event_id is None:
            return Outcome("duplicate", "already received (same message id): nothing done")
        return collector_event_process(event_id=event_id)


def collector_intercom_receive(
    *, collector: Collector, raw: bytes, signature: str | None, received_at: datetime
) -> Outcome:
    """An Intercom notification: verified (when the collector has the client secret), recorded, and
    for an add-contact topic decided after commit by `surveys.tasks.collector_process_event`."""
    secret = collector.intercom_client_secret
    if secret and not signature_valid(raw, signature, secret):
        raise RequestError(
            401,
            "invalid_signature",
            "X-Hub-Signature is missing or does not match the body (HMAC-SHA1 with the client secret).",
        )
    notification = notification_parse(raw)
    topic = notification.topic
    call = _Call(
        collector=collector,
        name=f"intercom {topic}",
        received_at=received_at,
        message_id=notification.id or f"intercom-{hashlib.sha256(raw).hexdigest()[:40]}",
        properties={
            "source": "intercom",
            "topic": topic,
            "notification": notification.id,
            "app_id": notification.app_id,
            "signed": bool(secret),
            "body": notification.body,
        },
    )
    with transaction.atomic():
        if topic == PING:
            return call.record(Outcome("ping", "ping acknowledged"))
        action = (collector.topic_actions or {}).get(topic)
        if action not in Collector.ACTIONS:
            return call.record(Outcome("ignored", f"ignored: topic {topic} is not mapped to an action"))
        call.properties["action"] = action
        if action != ADD:
            return call.record(collector_switch(collector=collector, on=action == TURN_ON))
        found = contact_find(notification)
        if isinstance(found, UnsupportedTopic):
            return call.record(Outcome("ignored", f"ignored: the hub cannot read a customer from {topic}"))
        if isinstance(found, NoContact):
            return call.reject(f"no contact: {found.reason}")
        contact = Contact(
            email=email_checked(found.email),
            name=found.name,
            user_id=found.external_id,
            intercom_id=found.intercom_id,
        )
        if not contact.email:
            if not found.intercom_id or not collector.intercom_access_token:
                missing = (
                    f"email not valid: {found.email[:80]!r}"
                    if found.email
                    else "no email in the notification"
                )
                return call.reject(
                    f"no contact: {missing}, and no Intercom access token on the collector to look it up"
                )
            call.properties["intercom_contact_id"] = found.intercom_id
        refused = _add_refused(collector)
        if refused is not None:
            return call.record(refused, contact)
        event_id = call.store(call.event(contact=contact, reason=PENDING))
        if event_id is None:
            return Outcome("duplicate", "already received (same notification id): nothing done")
        transaction.on_commit(lambda: _enqueue(event_id))
    return Outcome("accepted", "received: the invitation is decided in the background (see the event log)")


def _enqueue(event_id: int) -> None:
    from surveys.tasks import collector_process_event

    try:
        collector_process_event.delay(event_id)
    except Exception:  # the broker is down: collector_events_sweep takes it later
        logger.warning(
            "could not enqueue collector event %s; the sweeper will decide it", event_id, exc_info=True
        )


# --- deciding ----------------------------------------------------------------------------------------


def collector_event_process(*, event_id: int, final_attempt: bool = True) -> Outcome:
    """Decide one add-contact call: the customer record first (the pipeline's own processing of the
    event, a no-op when done), then the email lookup if needed, then the invitation.

    Idempotent: once the outcome is on the event, calling again changes nothing. Raises CollectorRetry
    while the event is being processed elsewhere or Intercom is unreachable (unless `final_attempt`).
    """
    inbound_events_process(ids=[event_id])
    event = InboundEvent.objects.select_related("source").filter(pk=event_id).first()
    if event is None:
        return Outcome("failed", f"event {event_id} no longer exists", http_status=500, code="failed")
    if event.status == InboundEvent.Status.ACCEPTED:
        raise CollectorRetry("the event is being processed by another worker", countdown=2)
    if event.payload == ERASED_PAYLOAD:
        return Outcome("suppressed", "not invited: this person was erased on request")
    if event.status == InboundEvent.Status.FAILED:
        return Outcome("failed", f"processing failed: {event.reason}", http_status=500, code="failed")
    if not event.reason.startswith(PENDING):
        return Outcome("done", f"decided before: {event.reason}")
    properties = event.payload.get("properties") or {}
    collector_id = properties.get("collector")
    collector = (
        Collector.objects.select_related("survey")
        .filter(pk=collector_id if isinstance(collector_id, int) else 0)
        .first()
    )
    person = person_find(source_id=event.source_id, user_id=event.user_id) if event.user_id else None
    refused: Outcome | None
    if collector is None:
        refused = Outcome("failed", "the collector was deleted", http_status=500, code="failed")
    elif person is None:
        refused = Outcome("suppressed", "not invited: the person was not recorded (erased on request)")
    else:
        refused = _email_lookup(collector, person, event, properties, final_attempt=final_attempt)
    with transaction.atomic():
        event = InboundEvent.objects.select_for_update().get(pk=event_id)
        if not event.reason.startswith(PENDING):
            return Outcome("done", f"decided before: {event.reason}")
        if refused is not None:
            outcome = refused
        else:
            assert collector is not None
            assert person is not None
            outcome = collector_invite(collector=collector, person=person, event=event, now=timezone.now())
        notes = event.reason[len(PENDING) :].lstrip("; ")
        event.status = outcome.event_status
        event.reason = f"{outcome.message}; {notes}" if notes else outcome.message
        event.save(update_fields=["status", "reason"])
    return outcome


def _email_lookup(
    collector: Collector,
    person: Person,
    event: InboundEvent,
    properties: dict[str, Any],
    *,
    final_attempt: bool,
) -> Outcome | None:
    """Intercom named the contact by id only: fetch the email and set it on the person (None: done, go on)."""
    contact_id = properties.get("intercom_contact_id")
    if person.email or not isinstance(contact_id, str):
        return None
    try:
        found, language = intercom_client.contact_fetch(
            contact_id=contact_id, access_token=collector.intercom_access_token
        )
    except ConnectorError as exc:
        if not exc.permanent and not final_attempt:
            raise CollectorRetry(f"Intercom contact lookup: {exc.message}", countdown=30) from exc
        status = "rejected" if exc.permanent else "failed"
        return Outcome(status, f"no contact: Intercom contact lookup failed: {exc.message}")
    email = email_checked(found.email)
    if not email:
        return Outcome("rejected", f"no contact: the Intercom contact {contact_id} has no valid email")
    traits = {"email": email, "name": found.name, "language": language}
    incoming = traits_normalise({key: value for key, value in traits.items() if value})
    at = event.timestamp or event.received_at
    person.traits, person.trait_times, changed = traits_merge(person.traits, person.trait_times, incoming, at)
    if changed:
        person_refresh_fields(person=person)
        person.save()
    return None


def collector_invite(
    *, collector: Collector, person: Person, event: InboundEvent | None, now: datetime
) -> Outcome:
    """Invite `person` through `collector` if the survey's rules and the collector's own protection allow."""
    survey = collector.survey
    history = histories_load(surveys=[survey], people=[person])[(survey.pk, person.pk)]
    decision = eligibility_decide(
        survey=survey,
        person=person,
        history=history,
        now=now,
        global_cap_days=SurveyPolicy.current().global_cap_days,
    )
    if not decision.eligible or decision.send_at is None:
        return _refusal(survey, person, history, decision)
    if collector.resurvey_days and collector.source_id is not None:
        last = Invitation.objects.filter(
            person=person,
            trigger_event__source_id=collector.source_id,
            status__in=COUNTED,
            due_at__gt=now - timedelta(days=collector.resurvey_days),
        ).aggregate(last=Max("due_at"))["last"]
        if last is not None:
            return Outcome(
                "already_surveyed",
                f"not invited: this collector invited them on {last:%Y-%m-%d}, "
                f"protection {collector.resurvey_days} days",
            )
    due = decision.send_at
    if collector.delay_minutes:
        due = send_window_next(
            survey=survey,
            at=max(due, now + timedelta(minutes=collector.delay_minutes)),
            person_timezone=person.timezone,
        )
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                survey=survey, person=person, due_at=due, trigger_event=event
            )
    except IntegrityError:  # another call scheduled one meanwhile (one open invitation per survey and person)
        return Outcome("already_surveyed", "not invited: an invitation of this survey is already scheduled")
    return Outcome(
        "invited", f"invited: invitation {invitation.pk}, due {due:%Y-%m-%d %H:%M} UTC", invitation=invitation
    )


def _refusal(survey: Survey, person: Person, history: History, decision: Decision) -> Outcome:
    """The decision's blocking rule, named for the caller: suppressed, already surveyed, or not eligible."""
    reason = f"not invited: {decision.reasons[-1]}"
    if survey.automation_enabled and history.suppression is not None:
        return Outcome("suppressed", reason)
    blocked_by_history = decision.next_eligible_at is not None or history.open_due_at is not None
    if survey.automation_enabled and person.email and blocked_by_history:
        return Outcome("already_surveyed", reason)
    return Outcome("not_eligible", reason)


def collector_events_sweep(*, older_than: timedelta = timedelta(minutes=2), limit: int = 500) -> int:
    """Decide add-contact calls still waiting (their task was lost, e.g. the broker was down)."""
    cutoff = timezone.now() - older_than
    sources = Collector.objects.exclude(source=None).values_list("source_id", flat=True)
    ids = list(
        InboundEvent.objects.filter(source_id__in=sources, reason__startswith=PENDING, received_at__lt=cutoff)
        .exclude(status__in=[InboundEvent.Status.REJECTED, InboundEvent.Status.FAILED])
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    decided = 0
    for event_id in ids:
        try:
            collector_event_process(event_id=event_id, final_attempt=False)
            decided += 1
        except CollectorRetry:
            continue
    return decided
