"""Suppressions: who is not to be surveyed (unsubscribed, bounced) nor recorded again (erased).

Matched only by customers/selectors.py `suppressions_for`; written only here.
"""

from collections.abc import Iterable

from django.db import transaction

from customers.models import Suppression, suppression_text
from customers.selectors import SuppressionKey, suppressions_for
from hub.crypto import keyed_hash


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
