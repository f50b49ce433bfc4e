"""Whom a collector call is about: the email as the customer records keep it, the userId the call is
recorded under, and the vendor lookup of a contact named by id only (Intercom's 2.x conversations)."""

from typing import Any

from customers.models import Person
from customers.selectors import people_find
from customers.services.people import person_refresh_fields
from customers.traits import person_fields, traits_merge, traits_normalise
from integrations.base import ConnectorError
from integrations.inbound import InboundContact
from integrations.models import InboundEvent, Source
from integrations.registry import webhook_handler_get
from surveys.models import Collector
from surveys.services.collector_outcome import CollectorRetry, Outcome

_ID_MAX = 255


def email_checked(email: str) -> str:
    """The email as the customer records keep it (validated, lower-cased), or "" if it is not one."""
    return person_fields({"email": email}).email if email else ""


def contact_user_id(*, source: Source, contact: InboundContact, kind: str) -> str:
    """Who the call is about within the source: the caller's user id, else the person already known by
    this email, else the email itself (or "<kind>:<vendor id>" while the email is still to be looked up)."""
    if contact.user_id:
        return contact.user_id
    if contact.email:
        key = (source.pk, contact.email)
        known = people_find(emails=[key]).by_email.get(key)
        return (known and known.user_id) or contact.email[:_ID_MAX]
    return f"{kind}:{contact.lookup_id}"[:_ID_MAX]


def lookup_property(kind: str) -> str:
    """Where a pending call keeps the vendor's id of a contact whose email is to be looked up."""
    return f"{kind}_contact_id"


def contact_email_lookup(
    *,
    collector: Collector,
    person: Person,
    event: InboundEvent,
    properties: dict[str, Any],
    final_attempt: bool,
) -> Outcome | None:
    """The vendor named the contact by id only: fetch the email with the collector's kind's lookup and
    set it on the person (None: done, or nothing to look up: go on)."""
    kind = collector.kind
    contact_id = properties.get(lookup_property(kind))
    if person.email or not isinstance(contact_id, str):
        return None
    handler = webhook_handler_get(kind)
    try:
        found = handler.contact_lookup(
            lookup_id=contact_id, settings=collector.settings, secrets=collector.secret_values()
        )
    except ConnectorError as exc:
        if not exc.permanent and not final_attempt:
            raise CollectorRetry(f"{handler.label} contact lookup: {exc.message}", countdown=30) from exc
        status = "rejected" if exc.permanent else "failed"
        return Outcome(status, f"no contact: {handler.label} contact lookup failed: {exc.message}")
    if found is None:
        secret = handler.lookup_secret.replace("_", " ")
        return Outcome("rejected", f"no contact: no {handler.label} {secret} on the collector to look it up")
    contact, language = found
    email = email_checked(contact.email)
    if not email:
        return Outcome("rejected", f"no contact: the {handler.label} contact {contact_id} has no valid email")
    traits = {"email": email, "name": contact.name, "language": language}
    incoming = traits_normalise({key: value for key, value in traits.items() if value})
    at = event.timestamp or event.received_at
    person.traits, person.trait_times, changed = traits_merge(person.traits, person.trait_times, incoming, at)
    if changed:
        person_refresh_fields(person=person)
        person.save()
    return None
