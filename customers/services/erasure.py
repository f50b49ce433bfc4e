"""GDPR erasure: a `delete` call, or the admin's erase action, removes a person's data from every table
(docs/architecture.md, "Personal data") and leaves suppressions (keyed hashes) and a receipt.
"""

from collections.abc import Iterable, Sequence

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q

from customers.models import DeletionReceipt, Person, Suppression, person_delete_allowed, suppression_hash
from customers.selectors import person_find
from customers.services.people import person_ids
from customers.services.suppressions import suppressions_record
from hub.pipeline import PERSON_ERASE_HOOKS, pipeline_functions
from integrations.deliveries import deliveries_erase
from integrations.models import ERASED_PAYLOAD, ERASED_REASON, Erasure, InboundEvent, Source
from integrations.segment.calls import SegmentCall, forwarding_key


def events_scrub(*, query: Q) -> int:
    """Erase personal data from event-log rows: payloads and ids go, type and times stay."""
    return InboundEvent.objects.filter(query).update(
        payload=ERASED_PAYLOAD, user_id="", anonymous_id="", event="", reason=ERASED_REASON
    )


def events_scrubbed_forget(*, before: Sequence[InboundEvent], after: Sequence[InboundEvent]) -> None:
    """A delete's erasure scrubbed calls of this very batch in the database (the customer-records
    handler, customers/services/records.py): the copies in memory follow, or the batch's final write
    would put their notes back and later handlers would act on them. The calls after the delete name
    someone erased (SUPPRESSED); the ones before it were recorded and are erased now (ERASED):
    forwarding still needs their payload to queue them erased. Delete calls stay as received: they
    are forwarded, for the vendors to erase the person too."""
    scrubbed = set(
        InboundEvent.objects.filter(
            pk__in=[e.pk for e in (*before, *after)], reason=ERASED_REASON
        ).values_list("pk", flat=True)
    )
    for events, erasure in ((before, Erasure.ERASED), (after, Erasure.SUPPRESSED)):
        for event in events:
            if event.pk not in scrubbed or event.type == SegmentCall.DELETE:
                continue
            if event.erasure == Erasure.NONE:
                event.erasure = erasure
            if event.erasure != Erasure.ERASED:
                event.payload = dict(ERASED_PAYLOAD)
            event.reason = ERASED_REASON
            event.user_id = event.anonymous_id = event.event = ""


def person_erase(*, source: Source, user_id: str, requested_by: str) -> DeletionReceipt:
    """GDPR erasure of the person of `source` a `delete` call names by userId (or an id aliased to it).

    The email address names the same person in the collectors' sources (where a collector keeps the
    contacts it invited, by email): records with that email there are erased with them, and so are
    the calls that name them by email. Other sources' records are theirs (tenancy): a source's
    `delete` never erases another source's customer. See `_erase`. Returns the receipt; a userId
    nobody has is still suppressed.
    """
    with transaction.atomic():
        person = person_find(source_id=source.pk, user_id=user_id)
        return _erase(source=source, user_id=user_id, person=person, requested_by=requested_by)


def person_erase_record(*, person: Person, requested_by: str) -> DeletionReceipt:
    """Erase this record (the admin's erase action and delete buttons): the same erasure as a `delete`
    call for its userId, or, for an anonymous record, for the first id it was known by."""
    with transaction.atomic():
        first_id = person.identities.order_by("pk").values_list("value", flat=True).first()
        user_id = person.user_id or first_id or ""
        return _erase(source=person.source, user_id=user_id, person=person, requested_by=requested_by)


def people_erase(*, people: Iterable[Person], requested_by: str) -> list[DeletionReceipt]:
    """Erase each of these records (the admin's selection); one receipt each. A record erased already
    with an earlier one (the same email) is skipped."""
    receipts = []
    for person in list(people):
        current = Person.objects.filter(pk=person.pk).select_related("source").first()
        if current is not None:
            receipts.append(person_erase_record(person=current, requested_by=requested_by))
    return receipts


def _erase(*, source: Source, user_id: str, person: Person | None, requested_by: str) -> DeletionReceipt:
    """Delete the records (traits, names, email, ids, memberships) after the later stages erased their
    part (PERSON_ERASE_HOOKS: invitations, answers, hub events, collector calls, sync-back batches);
    scrub the event log and the forwarded calls, and the admin's history; record suppressions (hashes)
    so that later calls do not bring them back; return the receipt (counts, a hash, who asked)."""
    people = [person] if person is not None else []
    reach = _erasure_sources(source)
    if person is not None and person.email:
        people += (
            Person.objects.filter(email=person.email, source_id__in=reach)
            .exclude(pk=person.pk)
            .select_related("source")
        )
    ids: dict[int, set[str]] = {source.pk: {user_id} - {""}}
    emails = {record.email for record in people if record.email}
    erased: dict[str, int] = {"people": len(people), "accounts_left": 0}
    for record in people:
        ids.setdefault(record.source_id, set()).update(person_ids(person=record))
        for hook in pipeline_functions(PERSON_ERASE_HOOKS):
            for what, count in (hook(person=record) or {}).items():
                erased[what] = erased.get(what, 0) + count
        erased["accounts_left"] += record.memberships.count()
    with person_delete_allowed():
        Person.objects.filter(pk__in=[record.pk for record in people]).delete()
    about_them = _calls_about(ids, emails, reach)
    message_ids = InboundEvent.objects.filter(about_them).values_list("source_id", "message_id")
    erased["deliveries"] = deliveries_erase(
        idempotency_keys=[forwarding_key(source_id=source_id, message_id=m) for source_id, m in message_ids]
    )
    erased["events"] = events_scrub(query=about_them)
    erased["admin_log_entries"] = _admin_log_scrub(
        people=people, texts=emails | {i for values in ids.values() for i in values}
    )
    for source_id, values_of_source in ids.items():
        suppressions_record(
            reason=Suppression.Reason.DELETED, source_id=source_id, user_ids=values_of_source, emails=emails
        )
    return DeletionReceipt.objects.create(
        source=source,
        requested_by=requested_by,
        user_id_hash=suppression_hash("user_id", user_id) if user_id else "",
        erased=erased,
    )


def _erasure_sources(source: Source) -> set[int]:
    """Where an erasure asked for in `source` reaches by email: that source and the collectors'
    sources (a collector's contacts are the hub's own survey invitees, kept by email)."""
    collector_sources = Source.objects.filter(collectors__isnull=False).values_list("pk", flat=True)
    return {source.pk, *collector_sources}


def _calls_about(ids: dict[int, set[str]], emails: set[str], reach: set[int]) -> Q:
    """Event-log rows about erased people: by any of their ids within its source, and, in the sources
    the erasure reaches, by their email as userId (a collector logs a contact without a userId so)."""
    query = Q(user_id__in=emails, source_id__in=reach) if emails else Q(pk__in=[])
    for source_id, values in ids.items():
        if values:
            query |= Q(source_id=source_id) & (Q(user_id__in=values) | Q(anonymous_id__in=values))
    return query


def _admin_log_scrub(*, people: Sequence[Person], texts: set[str]) -> int:
    """The admin's history names each object by str(): a person by email or userId, an invitation
    "<survey> → <person>", an event "track Clicked <userId>". Those names go; the entries stay."""
    which = Q(
        content_type=ContentType.objects.get_for_model(Person),
        object_id__in=[str(record.pk) for record in people],
    )
    for text in texts:
        which |= Q(object_repr__iexact=text) | Q(object_repr__iendswith=f" {text}")
        if "@" in text:
            which |= Q(object_repr__icontains=text)
    return LogEntry.objects.filter(which).update(object_repr=ERASED_REASON)
