"""One person's record: the typed columns read from the traits, and who a person is (aliases, merges).

`person_alias` applies an `alias` call; `person_merge` makes two records one (an alias, or an
anonymous record that turns out to be a known person), moving the later stages' rows along through
hub/pipeline.py PERSON_MERGE_HOOKS.
"""

from datetime import datetime

from django.db import transaction

from customers.models import Account, Identity, Membership, Person, person_delete_allowed
from customers.selectors import SuppressionKey, person_find, suppressions_for
from customers.traits import as_int, person_fields, traits_combine
from hub.pipeline import PERSON_MERGE_HOOKS, pipeline_functions
from hub.timeparse import parse_datetime


def person_refresh_fields(*, person: Person, locale: str = "") -> list[str]:
    """Recompute the typed columns from traits; returns notes about values that were not usable."""
    fields = person_fields(person.traits, locale, valid_email=person.email)
    person.email = fields.email
    person.first_name, person.last_name, person.name = fields.first_name, fields.last_name, fields.name
    person.gender = fields.gender
    person.language = fields.language or person.language
    person.created_at = fields.created_at
    return fields.notes


def account_refresh_fields(*, account: Account) -> None:
    traits = account.traits
    account.name = str(traits.get("name") or "")[:400]
    account.industry = str(traits.get("industry") or "")[:200]
    account.plan = str(traits.get("plan") or "")[:200]
    account.employees = as_int(traits.get("employees"))
    account.created_at = parse_datetime(traits.get("createdAt"))


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
    if at is not None:
        # first_seen_at the earliest call known, last_seen_at the latest: never first after last.
        seen = (min(person.first_seen_at, at), max(filter(None, [person.last_seen_at, at])))
        if seen != (person.first_seen_at, person.last_seen_at):
            person.first_seen_at, person.last_seen_at = seen
            person.save(update_fields=["first_seen_at", "last_seen_at", "updated_at"])
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
        person_refresh_fields(person=keep)
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


def person_ids(*, person: Person) -> set[str]:
    """Every id a person is known by in their source: userId, anonymousIds and former ids (aliases)."""
    ids = set(person.identities.values_list("value", flat=True))
    if person.user_id:
        ids.add(person.user_id)
    return ids
