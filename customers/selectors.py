"""Read-only queries about customer records, shared by the admin, the API and later stages."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models import Q

from customers.models import Account, Identity, Person, Suppression, suppression_text
from hub.crypto import keyed_hash_candidates
from hub.db import binary_rows, model_columns, model_from_row
from integrations.models import InboundEvent


def person_recent_events(person: Person, *, limit: int) -> list[InboundEvent]:
    """The person's latest calls, by every id they have used."""
    ids = list(person.identities.values_list("value", flat=True))
    query = Q(anonymous_id__in=ids) if ids else Q(pk__in=[])
    if person.user_id:
        query |= Q(user_id=person.user_id)
    return list(InboundEvent.objects.filter(query, source_id=person.source_id).order_by("-id")[:limit])


# --- people by id: who calls are about, for a whole batch -------------------------------------------

# (source id, value): a userId, an anonymousId, a former userId (an alias) or an email, within its
# source (an id means something only within its source).
PersonKey = tuple[int, str]


@dataclass
class PeopleFound:
    """The people a batch of calls names, found with one query per kind of id. A person found by two
    ids is one object, so a change made through one key shows through the other."""

    by_user_id: dict[PersonKey, Person] = field(default_factory=dict)
    by_other_id: dict[PersonKey, Person] = field(default_factory=dict)  # anonymousIds, former userIds
    by_email: dict[PersonKey, Person] = field(default_factory=dict)  # the oldest one with a userId

    def named(self, source_id: int, user_id: str) -> Person | None:
        """Whom a userId names: the person who has it, else the one it was aliased to (or who used
        it as an anonymousId)."""
        key = (source_id, user_id)
        return self.by_user_id.get(key) or self.by_other_id.get(key)

    def of_call(self, call: InboundEvent) -> Person | None:
        """Whom a call is about: by its userId, else by its anonymousId."""
        if call.user_id:
            return self.named(call.source_id, call.user_id)
        return self.by_other_id.get((call.source_id, call.anonymous_id))


def _per_source(keys: Iterable[PersonKey]) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for source_id, value in keys:
        if value:
            found.setdefault(source_id, set()).add(value)
    return found


def _in_sources(column: str, keys: Iterable[PersonKey]) -> Q | None:
    """One `IN` list per source: an OR of one clause per call made PostgreSQL scan every person of
    the source (docs/benchmarks.md, surveys)."""
    query = None
    for source_id, values in _per_source(keys).items():
        clause = Q(source_id=source_id, **{f"{column}__in": sorted(values)})
        query = clause if query is None else query | clause
    return query


def people_find(
    *,
    user_ids: Iterable[PersonKey] = (),
    other_ids: Iterable[PersonKey] = (),
    emails: Iterable[PersonKey] = (),
) -> PeopleFound:
    """The people of these userIds, of these other ids (anonymousIds and former userIds, by their
    identities) and of these emails (the oldest record with a userId), each within its source."""
    found = PeopleFound()
    by_pk: dict[int, Person] = {}
    if connection.vendor == "postgresql":
        _people_by_ids(found, by_pk, _per_source(user_ids), _per_source(other_ids))
    else:
        if (query := _in_sources("user_id", user_ids)) is not None:
            for person in Person.objects.filter(query):
                found.by_user_id[(person.source_id, person.user_id or "")] = by_pk.setdefault(
                    person.pk, person
                )
        if (query := _in_sources("value", other_ids)) is not None:
            for identity in Identity.objects.filter(query).select_related("person"):
                found.by_other_id[(identity.source_id, identity.value)] = by_pk.setdefault(
                    identity.person_id, identity.person
                )
    if (query := _in_sources("email", emails)) is not None:
        for person in Person.objects.filter(query, user_id__isnull=False).order_by("pk"):
            person = by_pk.setdefault(person.pk, person)
            found.by_email.setdefault((person.source_id, person.email), person)
    return found


def _keys_arrays(keys: Mapping[Any, set[str]]) -> list[list[Any]]:
    """{key: {value, ...}} as two binary-array parameters: the key of each pair, the value of each."""
    pairs = [(key, value) for key, values in keys.items() for value in values]
    return [[key for key, _ in pairs], [value for _, value in pairs]]


@cache
def _people_sql() -> str:
    """The statement that finds people by userId and by identity at once. Each id is looked up on its
    own in its unique index (LATERAL ... LIMIT 1: the plan cannot be anything else). Written as
    `source_id = %s AND user_id IN (...)`, or as a join PostgreSQL may plan as a hash join, it scanned
    the source's whole list of people (or identities) whenever the statistics predated the rows (a
    fresh import, the bench), the more people the slower (docs/benchmarks.md)."""
    quote = connection.ops.quote_name
    columns = model_columns(Person, "p")
    people, identities = quote(Person._meta.db_table), quote(Identity._meta.db_table)
    return (
        f"SELECT NULL::text, {columns} FROM unnest(%b::bigint[], %b::text[]) AS k(source_id, value)"  # noqa: S608
        f" CROSS JOIN LATERAL (SELECT * FROM {people} AS p"
        " WHERE p.source_id = k.source_id AND p.user_id = k.value LIMIT 1) AS p"
        f" UNION ALL SELECT k.value, {columns} FROM unnest(%b::bigint[], %b::text[]) AS k(source_id, value)"
        f" CROSS JOIN LATERAL (SELECT p.* FROM {identities} AS i JOIN {people} AS p ON p.id = i.person_id"
        " WHERE i.source_id = k.source_id AND i.value = k.value LIMIT 1) AS p"
    )


def _people_by_ids(
    found: PeopleFound,
    by_pk: dict[int, Person],
    user_ids: dict[int, set[str]],
    other_ids: dict[int, set[str]],
) -> None:
    """PostgreSQL: the people of these userIds and other ids in one statement (a person found by both
    is built once)."""
    if not user_ids and not other_ids:
        return
    for other_id, *row in binary_rows(_people_sql(), [*_keys_arrays(user_ids), *_keys_arrays(other_ids)]):
        person = by_pk.get(row[0])
        if person is None:
            person = by_pk[row[0]] = model_from_row(Person, row)
        if other_id is None:
            found.by_user_id[(person.source_id, person.user_id or "")] = person
        else:
            found.by_other_id[(person.source_id, other_id)] = person


def people_of_calls(*, calls: Iterable[InboundEvent]) -> PeopleFound:
    """The people a batch of calls is about (see `PeopleFound.of_call`), in two queries."""
    calls = list(calls)
    return people_find(
        user_ids=[(call.source_id, call.user_id) for call in calls],
        other_ids=[(call.source_id, value) for call in calls for value in (call.user_id, call.anonymous_id)],
    )


def accounts_of_groups(*, group_ids: dict[int, set[str]]) -> dict[PersonKey, Account]:
    """The accounts of these groupIds (per source), by (source id, groupId): one statement, each id
    looked up in the unique index (see `_people_sql`)."""
    if not any(group_ids.values()):
        return {}
    if connection.vendor != "postgresql":
        query = Q()
        for source_id, values in group_ids.items():
            query |= Q(source_id=source_id, group_id__in=sorted(values))
        return {(a.source_id, a.group_id): a for a in Account.objects.filter(query)}
    sql = (
        f"SELECT {model_columns(Account, 'a')}"  # noqa: S608 - our own names; values are bound
        " FROM unnest(%b::bigint[], %b::text[]) AS k(source_id, group_id)"
        f" CROSS JOIN LATERAL (SELECT * FROM {connection.ops.quote_name(Account._meta.db_table)} AS a"
        " WHERE a.source_id = k.source_id AND a.group_id = k.group_id LIMIT 1) AS a"
    )
    accounts = [model_from_row(Account, row) for row in binary_rows(sql, _keys_arrays(group_ids))]
    return {(account.source_id, account.group_id): account for account in accounts}


def person_find(*, source_id: int, user_id: str) -> Person | None:
    """Whom a userId names in its source (see `PeopleFound.named`): one query, two if it is a former
    or anonymous id."""
    key = (source_id, user_id)
    return people_find(user_ids=[key]).named(*key) or people_find(other_ids=[key]).named(*key)


# --- suppressions: the one place that computes lookup hashes and matches them ------------------------

# (source id, kind, value): kind "user_id" (also anonymousIds and aliases) or "email". The source is
# None for a hub-wide suppression (an unsubscribed or bounced address).
SuppressionKey = tuple[int | None, str, str]


def suppression_lookup_hashes(kind: str, value: str) -> list[str]:
    """Every hash a suppression of `value` may be stored under (each key, and the legacy SHA-256)."""
    return keyed_hash_candidates(suppression_text(kind, value))


class Suppressions:
    """The suppressions found for a set of keys (one query); ask it about any of those keys.

    `find(source, "email", "Ann@Example.com")` is the suppression that keeps that address of that
    source from being surveyed: the source's own (erasure, or an unsubscribed userId) or a hub-wide one.
    """

    def __init__(self, rows: Iterable[Suppression]) -> None:
        self._rows: dict[tuple[int | None, str, str], Suppression] = {}
        for row in sorted(rows, key=lambda r: (r.created_at, r.pk or 0)):
            self._rows.setdefault((row.source_id, row.kind, row.value_hash), row)
        self._hashes: dict[tuple[str, str], list[str]] = {}

    def __bool__(self) -> bool:
        return bool(self._rows)

    def _hashes_of(self, kind: str, value: str) -> list[str]:
        text_key = (kind, suppression_text(kind, value))
        hashes = self._hashes.get(text_key)
        if hashes is None:
            hashes = self._hashes[text_key] = suppression_lookup_hashes(kind, value)
        return hashes

    def stored(self, scope: int | None, kind: str, value: str) -> Suppression | None:
        """The row stored for exactly this scope (a source, or None: hub-wide), under any key."""
        if not self._rows or not value:
            return None
        for value_hash in self._hashes_of(kind, value):
            row = self._rows.get((scope, kind, value_hash))
            if row is not None:
                return row
        return None

    def find(self, source_id: int | None, kind: str, value: str) -> Suppression | None:
        """What suppresses `value` in `source_id`: the source's own row, else a hub-wide one."""
        own = self.stored(source_id, kind, value) if source_id is not None else None
        return own or self.stored(None, kind, value)

    def first(self, keys: Iterable[SuppressionKey]) -> Suppression | None:
        """The first of `keys` that is suppressed (e.g. a person's userId, then their email)."""
        for source_id, kind, value in keys:
            found = self.find(source_id, kind, value)
            if found is not None:
                return found
        return None


def suppressions_for(keys: Iterable[SuppressionKey], *, erased_only: bool = False) -> Suppressions:
    """The suppressions that may apply to `keys`, in one query (`Suppressions` matches them exactly).

    erased_only: only erasures (per source): what stops a customer record from being recreated or a
    call from being forwarded. Otherwise every reason, hub-wide rows included: what stops a survey.
    """
    hashes: dict[str, set[str]] = {}
    sources: set[int] = set()
    for source_id, kind, value in keys:
        if value:
            hashes.setdefault(kind, set()).update(suppression_lookup_hashes(kind, value))
            if source_id is not None:
                sources.add(source_id)
    if not hashes:
        return Suppressions(())
    if connection.vendor == "postgresql":
        return Suppressions(_suppressions_by_hash(hashes, sources, erased_only=erased_only))
    query = Q()
    for kind, values in hashes.items():
        query |= Q(kind=kind, value_hash__in=sorted(values))
    if erased_only:
        query &= Q(source_id__in=sources, reason=Suppression.Reason.DELETED)
    else:
        query &= Q(source_id__in=sources) | Q(source__isnull=True)
    return Suppressions(Suppression.objects.filter(query))


def _suppressions_by_hash(
    hashes: dict[str, set[str]], sources: set[int], *, erased_only: bool
) -> list[Suppression]:
    """PostgreSQL: the rows of these (kind, hash) pairs in one statement, the pairs as binary arrays
    (a batch of calls has a few hundred hashes: as an `IN` list each was a quoted literal)."""
    scope = (
        "s.source_id = ANY(%b::bigint[]) AND s.reason = %b"
        if erased_only
        else "(s.source_id = ANY(%b::bigint[]) OR s.source_id IS NULL)"
    )
    sql = (
        f"SELECT {model_columns(Suppression, 's')} FROM unnest(%b::text[], %b::text[]) AS k(kind, value_hash)"  # noqa: S608
        f" JOIN {connection.ops.quote_name(Suppression._meta.db_table)} AS s"
        f" ON s.kind = k.kind AND s.value_hash = k.value_hash WHERE {scope}"
    )
    params: list[Any] = [*_keys_arrays(hashes), sorted(sources)]
    if erased_only:
        params.append(str(Suppression.Reason.DELETED))
    return [model_from_row(Suppression, row) for row in binary_rows(sql, params)]


def person_suppression_keys(person: Person) -> list[SuppressionKey]:
    """What suppresses a person from surveys: their userId in their source, their email anywhere."""
    keys: list[SuppressionKey] = []
    if person.user_id:
        keys.append((person.source_id, "user_id", person.user_id))
    if person.email:
        keys.append((person.source_id, "email", person.email))
    return keys


def person_unsubscribed_since(*, person: Person) -> datetime | None:
    """When the person unsubscribed (their userId in their source, or their address anywhere), or None."""
    keys = person_suppression_keys(person)
    found = suppressions_for(keys)
    rows = [found.find(source_id, kind, value) for source_id, kind, value in keys]
    times = [
        row.created_at for row in rows if row is not None and row.reason == Suppression.Reason.UNSUBSCRIBED
    ]
    return min(times, default=None)
