"""Customer-record rules: every processed Segment call updates one coherent person (and account).

`people_process_events` is the first handler of the pipeline (hub/pipeline.py). It takes a batch of
events in timestamp order and splits it into runs: identify/track/page/screen/group calls are
applied in memory to records loaded with a handful of queries and written back in bulk; `alias`
and `delete` (rare) are applied one at a time between runs.
"""

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from customers.models import Account, Identity, Membership, Person
from customers.selectors import (
    PeopleFound,
    SuppressionKey,
    Suppressions,
    accounts_of_groups,
    people_of_calls,
    suppressions_for,
)
from customers.services.erasure import events_scrub, events_scrubbed_forget, person_erase
from customers.services.people import (
    account_refresh_fields,
    person_alias,
    person_merge,
    person_refresh_fields,
)
from customers.traits import traits_combine, traits_merge, traits_normalise, valid_timezone
from hub.db import advisory_locks, binary_rows, bulk_create, bulk_update, rows_saved, rows_unnest
from integrations.models import Erasure, InboundEvent
from integrations.segment.calls import ACTIVITY_CALL_TYPES, SegmentCall

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
    "first_seen_at",
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


# --- runs of identify / track / page / screen / group ---------------------------------------------


@dataclass
class _Run:
    """In-memory records for one run of events, loaded in bulk and saved in bulk."""

    by_user: dict[tuple[int, str], Person] = field(default_factory=dict)
    by_other_id: dict[tuple[int, str], Person] = field(default_factory=dict)
    accounts: dict[tuple[int, str], Account] = field(default_factory=dict)
    erased: Suppressions = field(default_factory=lambda: Suppressions(()))
    members: set[tuple[int, int]] = field(default_factory=set)  # (person pk, account pk) written
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
        _records_lock(
            [f"{e.source_id}:person:{i}" for e in events for i in (e.user_id, e.anonymous_id) if i]
            + [f"{src}:account:{group_id}" for src, ids in group_ids.items() for group_id in ids]
        )
        people = people_of_calls(calls=events)
        run.by_user, run.by_other_id = people.by_user_id, people.by_other_id
        # Only erasure stops the record itself; unsubscribed or bounced people are still customers.
        run.erased = suppressions_for(
            (key for event in events for key in _suppression_keys(event)), erased_only=True
        )
        if group_ids:
            run.accounts = accounts_of_groups(group_ids=group_ids)
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
            keep.first_seen_at = min(keep.first_seen_at, gone.first_seen_at)
            person_refresh_fields(person=keep)
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
        if at < person.first_seen_at:  # a call older than any before (late, or imported history)
            person.first_seen_at = at
            changed = True
        if newest:
            person.last_seen_at = at
            zone = valid_timezone(context.get("timezone"))
            if zone:
                person.timezone = zone
            changed = True
        if changed or locale:
            for note in person_refresh_fields(person=person, locale=locale):
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
                    account_refresh_fields(account=account)
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
        # Memberships are not loaded: each one a run names is inserted unless it exists (ON CONFLICT DO
        # NOTHING), once per run.
        if person.pk is not None and account.pk is not None and (person.pk, account.pk) in self.members:
            return
        if (id(person), id(account)) in self.pending_members:
            return
        self.pending_members.add((id(person), id(account)))
        self.new_members.append((person, account))

    # -- writing back --

    def flush(self) -> None:
        """Write what this run changed: on PostgreSQL one statement (`_records_write`), elsewhere a few,
        whatever the number of events."""
        _touch_all((*self.dirty_people.values(), *self.dirty_accounts.values()))
        if connection.vendor == "postgresql":
            _records_write(self)
        else:
            bulk_create(Person, self.new_people)
            bulk_update(Person, list(self.dirty_people.values()), _PERSON_FIELDS)
            bulk_create(
                Identity,
                [
                    Identity(source_id=p.source_id, person=p, kind=Identity.Kind.ANONYMOUS, value=v)
                    for p, v in self.new_identities
                ],
                ignore_conflicts=True,
            )
            bulk_create(Account, self.new_accounts)
            bulk_update(Account, list(self.dirty_accounts.values()), _ACCOUNT_FIELDS)
            bulk_create(
                Membership,
                [Membership(person=p, account=a) for p, a in self.new_members],
                ignore_conflicts=True,
            )
        self.members |= {(p.pk, a.pk) for p, a in self.new_members}
        self.new_people, self.dirty_people, self.new_identities = [], {}, []
        self.new_accounts, self.dirty_accounts, self.new_members = [], {}, []
        self.pending_members = set()
        if self.scrub:
            events_scrub(query=Q(pk__in=self.scrub))
            self.scrub = []


def _records_write(run: _Run) -> None:
    """PostgreSQL: a run's new and changed people, identities, accounts and memberships in one statement.

    Each part is a data-modifying CTE over binary arrays (hub.db.rows_unnest). New people and accounts
    get their ids from their sequences inside the statement (`nextval`, numbered by WITH ORDINALITY),
    so new identities and memberships can name a record made by the same statement; the statement
    returns those ids. Identities and memberships already there are left as they are (ON CONFLICT DO
    NOTHING); a person or account another writer created meanwhile is a unique violation, which
    `_process_run` answers by applying the run again. Six statements were six round trips, each
    ~1 ms on the loaded bench machine (docs/benchmarks.md)."""
    parts: list[str] = []
    params: list[Any] = []
    made: list[str] = []
    for model, new, dirty, fields, name in (
        (Person, run.new_people, run.dirty_people, _PERSON_FIELDS, "people"),
        (Account, run.new_accounts, run.dirty_accounts, _ACCOUNT_FIELDS, "accounts"),
    ):
        table = connection.ops.quote_name(model._meta.db_table)
        if new:
            rows = rows_unnest(model, new, adding=True, ordinality=True)
            parts += [
                f"new_{name} AS MATERIALIZED (SELECT nextval({_id_sequence(model)}) AS id, x.*"  # noqa: S608
                f" FROM {rows.source})",
                f"{name}_in AS (INSERT INTO {table} (id, {', '.join(rows.columns)})"  # noqa: S608
                f" SELECT x.id, {', '.join(rows.values)} FROM new_{name} AS x)",
            ]
            params += rows.params
            made.append(f"SELECT '{name}', n, id FROM new_{name}")  # noqa: S608 - our own names
        if dirty:
            rows = rows_unnest(model, list(dirty.values()), ["pk", *fields], alias="u")
            parts.append(
                f"{name}_up AS (UPDATE {table} AS t SET {rows.update_sets()} FROM {rows.source}"  # noqa: S608
                f" WHERE {rows.update_match()})"
            )
            params += rows.params
    now = timezone.now()
    people_n = {id(person): n for n, person in enumerate(run.new_people, 1)}
    accounts_n = {id(account): n for n, account in enumerate(run.new_accounts, 1)}
    if run.new_identities:
        parts.append(
            f"identities_in AS (INSERT INTO {connection.ops.quote_name(Identity._meta.db_table)}"  # noqa: S608
            " (source_id, person_id, kind, value, created_at)"
            f" SELECT i.source_id, {_id_of('i.person', 'p', run.new_people)}, i.kind, i.value, i.created_at"
            " FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::text[], %b::text[],"
            " %b::timestamptz[]) AS i(source_id, person_id, person_n, kind, value, created_at)"
            f"{_new_ones('people', 'p', 'i.person_n', run.new_people)} ON CONFLICT DO NOTHING)"
        )
        params += [
            [person.source_id for person, _ in run.new_identities],
            [person.pk for person, _ in run.new_identities],
            [people_n.get(id(person)) for person, _ in run.new_identities],
            [str(Identity.Kind.ANONYMOUS)] * len(run.new_identities),
            [value for _, value in run.new_identities],
            [now] * len(run.new_identities),
        ]
    if run.new_members:
        parts.append(
            f"members_in AS (INSERT INTO {connection.ops.quote_name(Membership._meta.db_table)}"  # noqa: S608
            " (person_id, account_id, created_at)"
            f" SELECT {_id_of('m.person', 'p', run.new_people)},"
            f" {_id_of('m.account', 'a', run.new_accounts)}, m.created_at"
            " FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[], %b::timestamptz[])"
            " AS m(person_id, person_n, account_id, account_n, created_at)"
            f"{_new_ones('people', 'p', 'm.person_n', run.new_people)}"
            f"{_new_ones('accounts', 'a', 'm.account_n', run.new_accounts)} ON CONFLICT DO NOTHING)"
        )
        params += [
            [person.pk for person, _ in run.new_members],
            [people_n.get(id(person)) for person, _ in run.new_members],
            [account.pk for _, account in run.new_members],
            [accounts_n.get(id(account)) for _, account in run.new_members],
            [now] * len(run.new_members),
        ]
    if not parts:
        return
    returned = " UNION ALL ".join(made) or "SELECT NULL::text, NULL::bigint, NULL::bigint WHERE false"
    for name, n, pk in binary_rows(f"WITH {', '.join(parts)} {returned}", params):
        (run.new_people if name == "people" else run.new_accounts)[n - 1].pk = pk
    rows_saved([*run.new_people, *run.new_accounts])


def _new_ones(name: str, alias: str, number: str, new: Sequence[Person | Account]) -> str:
    """The join to the records this statement makes, by their number (when it makes any)."""
    return f" LEFT JOIN new_{name} AS {alias} ON {alias}.n = {number}" if new else ""


def _id_of(column: str, alias: str, new: Sequence[Person | Account]) -> str:
    """A stored record's id (`column`_id), else the id of the one this statement makes (joined as `alias`)."""
    return f"coalesce({column}_id, {alias}.id)" if new else f"{column}_id"


@functools.cache
def _id_sequence(model: type[Person | Account]) -> str:
    """The sequence of the model's id column, looked up once per statement (an InitPlan)."""
    meta = model._meta
    return f"(SELECT pg_get_serial_sequence('{meta.db_table}', '{meta.pk.column}'))::regclass"


def _records_lock(keys: list[str]) -> None:
    """Hold the records these keys name (a source's person id or account id) until the batch commits.

    Another worker applying calls about the same person waits here, then loads what this one wrote:
    without it both would write back their own copy (the later one losing the other's traits), or
    both create the person and fail, and retrying one by one could deadlock (`hub.db.advisory_locks`
    takes them in one statement, in hash order).
    """
    advisory_locks(keys)


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
    it on to nobody (this handler's own rule, whom to record, reads the userId first). No erasure
    found for the batch (the usual case): the call's keys are not even built."""
    if not erased:
        return Erasure.NONE
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


def _process_run(events: Sequence[InboundEvent], *, again: bool = True) -> _Run:
    notes = [event.reason for event in events]
    try:
        with transaction.atomic():
            run = _Run.load(events)
            for event in events:
                run.apply(event)
            run.flush()
        return run
    except IntegrityError:
        if not again:
            raise
        # Another writer without our person locks (an alias call, person_alias) created the same person
        # or account meanwhile: reload and apply again, noting what the first attempt noted once.
        for event, note in zip(events, notes, strict=True):
            event.reason = note
        return _process_run(events, again=False)


def _people_found(run: _Run) -> PeopleFound | None:
    """Whom the run's calls are about now that it is written: what `people_of_calls` would load
    again (the people it loaded by userId and other ids, plus those it created, adopted or merged)."""
    people = (*run.by_user.values(), *run.by_other_id.values())
    if any(person.pk is None for person in people):
        return None
    return PeopleFound(by_user_id=dict(run.by_user), by_other_id=dict(run.by_other_id))


# --- the processing handler -------------------------------------------------------------------------


def people_process_events(*, events: Sequence[InboundEvent]) -> None:
    """Apply processed calls to customer records, in order (the first handler of hub/pipeline.py).

    Each call leaves its `erasure` for the handlers after it: SUPPRESSED when it names someone erased
    on request (before this batch, or by a delete earlier in it), ERASED when a delete later in the
    batch erased it after it was recorded. A batch of one run (no alias or delete: the usual case)
    also leaves whom its calls are about (`people_found`), so the trigger handler does not load them
    again."""
    run: list[InboundEvent] = []
    ordered = _in_order(events)
    for event in ordered:
        event.erasure = Erasure.NONE
        event.people_found = None
    aliases_or_deletes = 0
    for position, event in enumerate(ordered):
        if event.type in _RUN_TYPES:
            if event.user_id or event.anonymous_id:  # webhook calls without a contact name nobody
                run.append(event)
            continue
        aliases_or_deletes += 1  # people change between runs: later handlers load them again
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
            events_scrubbed_forget(before=ordered[:position], after=ordered[position + 1 :])
            event.reason = f"erased: {receipt.erased}"
    if run:
        written = _process_run(run)
        if not aliases_or_deletes:
            found = _people_found(written)
            for event in ordered:
                event.people_found = found


def _in_order(events: Iterable[InboundEvent]) -> list[InboundEvent]:
    return sorted(events, key=lambda e: (_event_time(e), e.pk or 0))  # aware: compared as moments
