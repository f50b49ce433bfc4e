"""Customer-record rules: every processed Segment call updates one coherent person (and account).

`people_process_events` is the processing handler (registered in apps.py). It takes a batch of
events in timestamp order and splits it into runs: identify/track/page/screen/group calls are
applied in memory to records loaded with a handful of queries and written back in bulk; `alias`
and `delete` (rare) are applied one at a time between runs.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import (
    Account,
    DeletionReceipt,
    Identity,
    Membership,
    Person,
    Suppression,
    person_delete_allowed,
    suppression_hash,
    suppression_text,
)
from customers.selectors import (
    SuppressionKey,
    Suppressions,
    people_of_calls,
    person_find,
    suppressions_for,
)
from customers.traits import (
    as_int,
    person_fields,
    time_key,
    traits_combine,
    traits_merge,
    traits_normalise,
    valid_timezone,
)
from hub.crypto import keyed_hash
from hub.db import bulk_update
from hub.pipeline import PERSON_ERASE_HOOKS, PERSON_MERGE_HOOKS, pipeline_functions
from hub.timeparse import parse_datetime
from integrations.deliveries import deliveries_erase
from integrations.models import ERASED_PAYLOAD, ERASED_REASON, Erasure, InboundEvent, Source
from integrations.segment.calls import ACTIVITY_CALL_TYPES, SegmentCall, forwarding_key

logger = logging.getLogger(__name__)

_RUN_TYPES = frozenset(ACTIVITY_CALL_TYPES)
_PERSON_FIELDS = [
    "user_id",
    "traits",
    "trait_times",
    "email",
    "first_name",
    "last_name",
    "name",
    "gender",
    "language",
    "timezone",
    "created_at",
    "last_seen_at",
    "updated_at",
]
_ACCOUNT_FIELDS = [
    "traits",
    "trait_times",
    "name",
    "industry",
    "employees",
    "plan",
    "created_at",
    "updated_at",
]


def _note(event: InboundEvent, text: str) -> None:
    event.reason = f"{event.reason}; {text}" if event.reason else text


def _event_time(event: InboundEvent) -> datetime:
    return event.timestamp or event.received_at


def person_refresh_fields(person: Person, *, locale: str = "") -> list[str]:
    """Recompute the typed columns from traits; returns notes about values that were not usable."""
    fields = person_fields(person.traits, locale)
    person.email = fields.email
    person.first_name, person.last_name, person.name = fields.first_name, fields.last_name, fields.name
    person.gender = fields.gender
    person.language = fields.language or person.language
    person.created_at = fields.created_at
    return fields.notes


def account_refresh_fields(account: Account) -> None:
    traits = account.traits
    account.name = str(traits.get("name") or "")[:400]
    account.industry = str(traits.get("industry") or "")[:200]
    account.plan = str(traits.get("plan") or "")[:200]
    account.employees = as_int(traits.get("employees"))
    account.created_at = parse_datetime(traits.get("createdAt"))


# --- runs of identify / track / page / screen / group ---------------------------------------------


@dataclass
class _Run:
    """In-memory records for one run of events, loaded in bulk and saved in bulk."""

    by_user: dict[tuple[int, str], Person] = field(default_factory=dict)
    by_other_id: dict[tuple[int, str], Person] = field(default_factory=dict)
    accounts: dict[tuple[int, str], Account] = field(default_factory=dict)
    erased: Suppressions = field(default_factory=lambda: Suppressions(()))
    members: set[tuple[int, int]] = field(default_factory=set)
    new_people: list[Person] = field(default_factory=list)
    dirty_people: dict[int, Person] = field(default_factory=dict)
    new_identities: list[tuple[Person, str]] = field(default_factory=list)
    new_accounts: list[Account] = field(default_factory=list)
    dirty_accounts: dict[int, Account] = field(default_factory=dict)
    new_members: list[tuple[Person, Account]] = field(default_factory=list)
    pending_members: set[tuple[int, int]] = field(default_factory=set)
    scrub: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, events: Sequence[InboundEvent]) -> "_Run":
        run = cls()
        group_ids: dict[int, set[str]] = {}
        for event in events:
            for group_id in _account_ids(event):
                group_ids.setdefault(event.source_id, set()).add(group_id)
        people = people_of_calls(calls=events)
        run.by_user, run.by_other_id = people.by_user_id, people.by_other_id
        # Only erasure stops the record itself; unsubscribed or bounced people are still customers.
        run.erased = suppressions_for(
            (key for event in events for key in _suppression_keys(event)), erased_only=True
        )
        if group_ids:
            query = Q()
            for src, ids in group_ids.items():
                query |= Q(source_id=src, group_id__in=ids)
            for account in Account.objects.filter(query):
                run.accounts[(account.source_id, account.group_id)] = account
            person_pks = {p.pk for p in (*run.by_user.values(), *run.by_other_id.values())}
            account_pks = {a.pk for a in run.accounts.values()}
            if person_pks and account_pks:
                run.members = set(
                    Membership.objects.filter(
                        person_id__in=person_pks, account_id__in=account_pks
                    ).values_list("person_id", "account_id")
                )
        return run

    # -- resolving who a call is about --

    def _is_suppressed(self, src: int, kind: str, value: str) -> bool:
        return self.erased.stored(src, kind, value) is not None

    def _touch(self, person: Person) -> None:
        if person.pk is not None:
            self.dirty_people[person.pk] = person

    def _add_identity(self, person: Person, src: int, value: str) -> None:
        self.by_other_id[(src, value)] = person
        self.new_identities.append((person, value))

    def person_for(self, event: InboundEvent) -> Person | None:
        src, user_id, anonymous_id = event.source_id, event.user_id, event.anonymous_id
        anonymous = self.by_other_id.get((src, anonymous_id)) if anonymous_id else None
        if not user_id:
            if self._is_suppressed(src, "user_id", anonymous_id):
                _note(event, "not recorded: this person was erased on request")
                self.scrub.append(event.pk)
                return None
            if anonymous is None:
                anonymous = Person(source_id=src, user_id=None)
                self.new_people.append(anonymous)
                self._add_identity(anonymous, src, anonymous_id)
            return anonymous
        if self._is_suppressed(src, "user_id", user_id):
            _note(event, "not recorded: this person was erased on request")
            self.scrub.append(event.pk)
            return None
        person = self.by_user.get((src, user_id)) or self.by_other_id.get((src, user_id))
        if anonymous is not None and anonymous is not person and anonymous.user_id is None:
            if person is None:
                anonymous.user_id = user_id  # a later identify adopts the anonymous record
                self._touch(anonymous)
                person = anonymous
            else:
                self._absorb(keep=person, gone=anonymous)
        if person is None:
            person = Person(source_id=src, user_id=user_id)
            self.new_people.append(person)
        self.by_user[(src, user_id)] = person
        if anonymous_id and (src, anonymous_id) not in self.by_other_id:
            self._add_identity(person, src, anonymous_id)
        return person

    def _absorb(self, *, keep: Person, gone: Person) -> None:
        """An anonymous record turns out to be `keep`: merge it in and repoint everything of this run."""
        for mapping in (self.by_user, self.by_other_id):
            for key, value in mapping.items():
                if value is gone:
                    mapping[key] = keep
        self.new_identities = [(keep if p is gone else p, v) for p, v in self.new_identities]
        self.new_members = [(keep if p is gone else p, a) for p, a in self.new_members]
        if gone.pk is None:
            self.new_people.remove(gone)
            keep.traits, keep.trait_times = traits_combine(
                keep.traits, keep.trait_times, gone.traits, gone.trait_times
            )
            keep.last_seen_at = max(filter(None, [keep.last_seen_at, gone.last_seen_at]), default=None)
            person_refresh_fields(keep)
            self._touch(keep)
        else:
            self.flush()  # the merge works on saved rows
            person_merge(keep=keep, gone=gone)
            self.dirty_people.pop(gone.pk or 0, None)
            self.members = {(p, a) for p, a in self.members if p != gone.pk} | {
                (keep.pk, a) for p, a in self.members if p == gone.pk and keep.pk is not None
            }

    # -- applying one call --

    def apply(self, event: InboundEvent) -> None:
        event.erasure = _erasure_of(event, self.erased)
        payload = event.payload
        context = payload.get("context") if isinstance(payload.get("context"), dict) else {}
        incoming: dict[str, Any] = {}
        if isinstance(context.get("traits"), dict):
            incoming.update(traits_normalise(context["traits"]))
        if event.type == "identify" and isinstance(payload.get("traits"), dict):
            incoming.update(traits_normalise(payload["traits"]))
        email = incoming.get("email")
        if isinstance(email, str) and self._is_suppressed(event.source_id, "email", email):
            _note(event, "not recorded: this email was erased on request")
            self.scrub.append(event.pk)
            return

        person = self.person_for(event)
        if person is None:
            return
        at = _event_time(event)
        newest = person.last_seen_at is None or at >= person.last_seen_at
        changed = False
        if incoming:
            person.traits, person.trait_times, changed = traits_merge(
                person.traits, person.trait_times, incoming, at
            )
        raw_locale = context.get("locale")
        locale = raw_locale if newest and isinstance(raw_locale, str) else ""
        if newest:
            person.last_seen_at = at
            zone = valid_timezone(context.get("timezone"))
            if zone:
                person.timezone = zone
            changed = True
        if changed or locale:
            for note in person_refresh_fields(person, locale=locale):
                _note(event, note)
            self._touch(person)

        for group_id in _account_ids(event):
            account = self._account(event.source_id, group_id)
            if event.type == "group" and isinstance(payload.get("traits"), dict):
                traits = traits_normalise(payload["traits"])
                account.traits, account.trait_times, account_changed = traits_merge(
                    account.traits, account.trait_times, traits, at
                )
                if account_changed:
                    account_refresh_fields(account)
                    if account.pk is not None:
                        self.dirty_accounts[account.pk] = account
            self._join(person, account)

    def _account(self, src: int, group_id: str) -> Account:
        account = self.accounts.get((src, group_id))
        if account is None:
            account = Account(source_id=src, group_id=group_id)
            self.accounts[(src, group_id)] = account
            self.new_accounts.append(account)
        return account

    def _join(self, person: Person, account: Account) -> None:
        if person.pk is not None and account.pk is not None and (person.pk, account.pk) in self.members:
            return
        if (id(person), id(account)) in self.pending_members:
            return
        self.pending_members.add((id(person), id(account)))
        self.new_members.append((person, account))

    # -- writing back --

    def flush(self) -> None:
        """Write what this run changed: a few bulk statements, whatever the number of events."""
        if self.new_people:
            Person.objects.bulk_create(self.new_people)
            self.new_people = []
        if self.dirty_people:
            _touch_all(self.dirty_people.values())
            bulk_update(Person, list(self.dirty_people.values()), _PERSON_FIELDS)
            self.dirty_people = {}
        if self.new_identities:
            Identity.objects.bulk_create(
                [
                    Identity(source_id=p.source_id, person=p, kind=Identity.Kind.ANONYMOUS, value=v)
                    for p, v in self.new_identities
                ],
                ignore_conflicts=True,
            )
            self.new_identities = []
        if self.new_accounts:
            Account.objects.bulk_create(self.new_accounts)
            self.new_accounts = []
        if self.dirty_accounts:
            _touch_all(self.dirty_accounts.values())
            bulk_update(Account, list(self.dirty_accounts.values()), _ACCOUNT_FIELDS)
            self.dirty_accounts = {}
        if self.new_members:
            Membership.objects.bulk_create(
                [Membership(person=p, account=a) for p, a in self.new_members], ignore_conflicts=True
            )
            self.members |= {(p.pk, a.pk) for p, a in self.new_members}
            self.new_members = []
            self.pending_members = set()
        if self.scrub:
            events_scrub(Q(pk__in=self.scrub))
            self.scrub = []


def _email_of(event: InboundEvent) -> str:
    """The email a call names, as sent: in its traits (an identify call's), else in context.traits."""
    payload = event.payload
    context = payload.get("context")
    for traits in (payload.get("traits"), context.get("traits") if isinstance(context, dict) else None):
        if isinstance(traits, dict) and isinstance(traits.get("email"), str):
            return str(traits["email"])
    return ""


def _suppression_keys(event: InboundEvent) -> list[SuppressionKey]:
    """What would make a call name someone erased on request: its ids and its email."""
    return [
        (event.source_id, "user_id", event.user_id),
        (event.source_id, "user_id", event.anonymous_id),
        (event.source_id, "email", _email_of(event)),
    ]


def _erasure_of(event: InboundEvent, erased: Suppressions) -> Erasure:
    """SUPPRESSED when any of the call's ids or its email was erased on request: later handlers pass
    it on to nobody (this handler's own rule, whom to record, reads the userId first)."""
    return Erasure.SUPPRESSED if erased.first(_suppression_keys(event)) else Erasure.NONE


def _touch_all(records: Iterable[Person | Account]) -> None:
    """bulk updates skip auto_now: stamp updated_at ourselves."""
    now = timezone.now()
    for record in records:
        record.updated_at = now


def _account_ids(event: InboundEvent) -> list[str]:
    """Accounts a call is about: the group call's groupId, or CustomerSuccessBox's `account_id`."""
    payload = event.payload
    found: list[str] = []
    if event.type == "group":
        group_id = payload.get("groupId")
        if isinstance(group_id, str) and group_id:
            found.append(group_id[:255])
    for holder in ("traits", "properties"):
        values = payload.get(holder)
        if isinstance(values, dict):
            account_id = values.get("account_id")
            if isinstance(account_id, int) and not isinstance(account_id, bool):
                account_id = str(account_id)
            if isinstance(account_id, str) and account_id and account_id[:255] not in found:
                found.append(account_id[:255])
    return found


def _process_run(events: Sequence[InboundEvent]) -> None:
    for attempt in range(2):
        try:
            with transaction.atomic():
                run = _Run.load(events)
                for event in events:
                    run.apply(event)
                run.flush()
            return
        except IntegrityError:
            # Another worker created the same person or account meanwhile: reload and apply again.
            if attempt:
                raise


# --- alias and delete -----------------------------------------------------------------------------


def _suppressed(source_id: int, kind: str, value: str) -> bool:
    """Erased on request (unsubscribed or bounced people keep their record)."""
    keys: list[SuppressionKey] = [(source_id, kind, value)]
    return suppressions_for(keys, erased_only=True).stored(source_id, kind, value) is not None


def person_alias(
    *, source_id: int, previous_id: str, user_id: str, at: datetime | None = None
) -> Person | None:
    """`alias`: previousId and userId name one person from now on; two records become one."""
    if _suppressed(source_id, "user_id", user_id):
        return None
    target = Person.objects.filter(source_id=source_id, user_id=user_id).first()
    previous = person_find(source_id=source_id, user_id=previous_id)
    if target is not None and previous is not None and previous.pk != target.pk:
        person_merge(keep=target, gone=previous)
        person = target
    elif previous is not None and target is None:
        if previous.user_id and previous.user_id != user_id:
            Identity.objects.get_or_create(
                source_id=source_id, value=previous.user_id, defaults={"person": previous, "kind": "alias"}
            )
        previous.user_id = user_id
        previous.save(update_fields=["user_id", "updated_at"])
        person = previous
    else:
        person = target or Person.objects.create(source_id=source_id, user_id=user_id)
    if previous_id != user_id:
        Identity.objects.get_or_create(
            source_id=source_id, value=previous_id, defaults={"person": person, "kind": "alias"}
        )
    if at is not None and (person.last_seen_at is None or at > person.last_seen_at):
        person.last_seen_at = at
        person.save(update_fields=["last_seen_at", "updated_at"])
    return person


def person_merge(*, keep: Person, gone: Person) -> None:
    """Merge `gone` into `keep`: traits (later call wins), ids, accounts, and later stages' rows."""
    with transaction.atomic():
        keep.traits, keep.trait_times = traits_combine(
            keep.traits, keep.trait_times, gone.traits, gone.trait_times
        )
        keep.last_seen_at = max(filter(None, [keep.last_seen_at, gone.last_seen_at]), default=None)
        keep.first_seen_at = min(keep.first_seen_at, gone.first_seen_at)
        keep.timezone = keep.timezone or gone.timezone
        keep.language = keep.language or gone.language
        person_refresh_fields(keep)
        Identity.objects.filter(person=gone).update(person=keep)
        have = set(Membership.objects.filter(person=keep).values_list("account_id", flat=True))
        Membership.objects.filter(person=gone).exclude(account_id__in=have).update(person=keep)
        for hook in pipeline_functions(PERSON_MERGE_HOOKS):
            hook(keep=keep, gone=gone)
        gone_user_id = gone.user_id
        with person_delete_allowed():  # a merge, not an erasure: everything of theirs lives on in `keep`
            gone.delete()
        if gone_user_id:
            Identity.objects.get_or_create(
                source_id=keep.source_id, value=gone_user_id, defaults={"person": keep, "kind": "alias"}
            )
        keep.save()


def person_ids(person: Person) -> set[str]:
    """Every id a person is known by in their source: userId, anonymousIds and former ids (aliases)."""
    ids = set(person.identities.values_list("value", flat=True))
    if person.user_id:
        ids.add(person.user_id)
    return ids


def events_scrub(query: Q) -> int:
    """Erase personal data from event-log rows: payloads and ids go, type and times stay."""
    return InboundEvent.objects.filter(query).update(
        payload=ERASED_PAYLOAD, user_id="", anonymous_id="", event="", reason=ERASED_REASON
    )


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
        ids.setdefault(record.source_id, set()).update(person_ids(record))
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
    erased["events"] = events_scrub(about_them)
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


# --- suppressions ---------------------------------------------------------------------------------


def suppressions_record(
    *,
    reason: Suppression.Reason,
    source_id: int | None = None,
    user_ids: Iterable[str] = (),
    emails: Iterable[str] = (),
) -> list[Suppression]:
    """Record that these ids and addresses are not to be surveyed (erased: nor recorded again).

    The one writer of suppressions. Erasure is per source, like the userIds it names; an unsubscribed
    or bounced email is suppressed hub-wide, for every source and collector. Each row stores a keyed
    hash under the first HUB_HASH_KEYS key. Returns the rows created: a value suppressed already in
    the same scope (under any key) adds none, except that an erasure turns the source's earlier
    unsubscribe of that value into an erasure (only erasure stops the record itself).
    """
    wanted: list[SuppressionKey] = []
    for kind, values in (("user_id", user_ids), ("email", emails)):
        hub_wide = kind == "email" and reason != Suppression.Reason.DELETED
        scope = None if hub_wide else source_id
        present = [value for value in values if value]
        if present and not hub_wide and source_id is None:
            raise ValueError(f"a {reason} suppression of a {kind} needs its source")
        wanted += [(scope, kind, value) for value in present]
    found = suppressions_for(wanted)
    created: list[Suppression] = []
    with transaction.atomic():
        for scope, kind, value in wanted:
            existing = found.stored(scope, kind, value)
            if existing is not None:
                if reason == Suppression.Reason.DELETED and existing.reason != reason:
                    Suppression.objects.filter(pk=existing.pk).update(reason=reason)
                continue
            key_id, value_hash = keyed_hash(suppression_text(kind, value))
            row, new = Suppression.objects.get_or_create(
                source_id=scope,
                kind=kind,
                value_hash=value_hash,
                defaults={"reason": reason, "key_id": key_id},
            )
            if new:
                created.append(row)
    return created


# --- the processing handler -------------------------------------------------------------------------


def people_process_events(events: Sequence[InboundEvent]) -> None:
    """Apply processed calls to customer records, in order (the first handler of hub/pipeline.py).

    Each call leaves its `erasure` for the handlers after it: SUPPRESSED when it names someone erased
    on request (before this batch, or by a delete earlier in it), ERASED when a delete later in the
    batch erased it after it was recorded."""
    run: list[InboundEvent] = []
    ordered = _in_order(events)
    for event in ordered:
        event.erasure = Erasure.NONE
    for position, event in enumerate(ordered):
        if event.type in _RUN_TYPES:
            if event.user_id or event.anonymous_id:  # webhook calls without a contact name nobody
                run.append(event)
            continue
        if run:
            _process_run(run)
            run = []
        payload = event.payload
        if event.type == SegmentCall.ALIAS:
            event.erasure = _erasure_of(event, suppressions_for(_suppression_keys(event), erased_only=True))
            person = person_alias(
                source_id=event.source_id,
                previous_id=str(payload.get("previousId") or ""),
                user_id=event.user_id,
                at=_event_time(event),
            )
            if person is None:
                _note(event, "not recorded: this person was erased on request")
        elif event.type == SegmentCall.DELETE:
            receipt = person_erase(
                source=event.source, user_id=event.user_id, requested_by=f"source {event.source.slug}"
            )
            _forget_scrubbed(before=ordered[:position], after=ordered[position + 1 :])
            event.reason = f"erased: {receipt.erased}"
    if run:
        _process_run(run)


def _forget_scrubbed(*, before: Sequence[InboundEvent], after: Sequence[InboundEvent]) -> None:
    """A delete's erasure scrubbed calls of this very batch in the database: the copies in memory
    follow, or the batch's final write would put their notes back and later handlers would act on
    them. The calls after the delete name someone erased (SUPPRESSED); the ones before it were
    recorded and are erased now (ERASED): forwarding still needs their payload to queue them erased.
    Delete calls stay as received: they are forwarded, for the vendors to erase the person too."""
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


def _in_order(events: Iterable[InboundEvent]) -> list[InboundEvent]:
    return sorted(events, key=lambda e: (time_key(_event_time(e)), e.pk or 0))
