"""Read-only queries about customer records, shared by the admin, the API and later stages."""

from collections.abc import Iterable

from django.db.models import Q

from customers.models import Person, Suppression, suppression_text
from hub.crypto import keyed_hash_candidates
from integrations.models import InboundEvent


def person_recent_events(person: Person, *, limit: int) -> list[InboundEvent]:
    """The person's latest calls, by every id they have used."""
    ids = list(person.identities.values_list("value", flat=True))
    query = Q(anonymous_id__in=ids) if ids else Q(pk__in=[])
    if person.user_id:
        query |= Q(user_id=person.user_id)
    return list(InboundEvent.objects.filter(query, source_id=person.source_id).order_by("-id")[:limit])


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
    query = Q()
    for kind, values in hashes.items():
        query |= Q(kind=kind, value_hash__in=sorted(values))
    if erased_only:
        query &= Q(source_id__in=sources, reason=Suppression.Reason.DELETED)
    else:
        query &= Q(source_id__in=sources) | Q(source__isnull=True)
    return Suppressions(Suppression.objects.filter(query))


def person_suppression_keys(person: Person) -> list[SuppressionKey]:
    """What suppresses a person from surveys: their userId in their source, their email anywhere."""
    keys: list[SuppressionKey] = []
    if person.user_id:
        keys.append((person.source_id, "user_id", person.user_id))
    if person.email:
        keys.append((person.source_id, "email", person.email))
    return keys
