"""Customer records: the people and accounts every processed Segment call updates.

One home for who a customer is: surveys decide on these records, connectors read them, staff see
them in the admin. Identity is per source (a userId means something only within its source).
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from hub.crypto import keyed_hash


class TraitsRecord(models.Model):
    """Traits merged from calls, with per-trait times so an older call never overwrites a newer value."""

    traits = models.JSONField(default=dict, blank=True, help_text="Every trait received, latest value each.")
    trait_times = models.JSONField(
        default=dict,
        blank=True,
        editable=False,
        help_text="When each trait was last set (event time, ISO 8601).",
    )
    first_seen_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Person(TraitsRecord):
    """A customer, e.g. userId "u-42" of the source "web-app" with email ann@example.com.

    Anonymous people (only an anonymousId so far) have no user_id; a later identify with a userId
    adopts them. Typed columns hold what the hub acts on; everything else stays in `traits`.
    """

    source = models.ForeignKey("integrations.Source", on_delete=models.PROTECT, related_name="people")
    # NULL, not "": many people are anonymous, while a userId is unique within its source.
    user_id = models.CharField(  # noqa: DJ001
        max_length=255,
        null=True,
        blank=True,
        help_text="Segment userId; empty while the person is anonymous.",
    )
    email = models.CharField(
        max_length=254, blank=True, help_text="Validated and lower-cased; blank if invalid."
    )
    first_name = models.CharField(max_length=200, blank=True)
    last_name = models.CharField(max_length=200, blank=True)
    name = models.CharField(max_length=400, blank=True, help_text="The `name` trait, or first + last name.")
    gender = models.CharField(max_length=50, blank=True)
    language = models.CharField(
        max_length=35, blank=True, help_text="From the `language` trait, else context.locale (e.g. nl-BE)."
    )
    timezone = models.CharField(max_length=64, blank=True, help_text="IANA time zone from context.timezone.")
    created_at = models.DateTimeField(
        null=True, blank=True, help_text="The customer's createdAt trait (drives survey delay windows)."
    )
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Time of the latest call about them."
    )
    accounts: "models.ManyToManyField[Account, Membership]" = models.ManyToManyField(
        "Account", through="Membership", related_name="people", blank=True
    )

    class Meta:
        verbose_name_plural = "people"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "user_id"], condition=Q(user_id__isnull=False), name="person_unique_user"
            ),
        ]
        indexes = [models.Index(fields=["email"], name="person_email")]

    def __str__(self) -> str:
        return self.email or self.user_id or f"anonymous #{self.pk}"


class PersonDeleteRefused(Exception):
    """A person was about to be deleted outside erasure and merging (which leave suppressions and a
    receipt, or move everything to the surviving record)."""


_person_delete_allowed: ContextVar[bool] = ContextVar("person_delete_allowed", default=False)


@contextmanager
def person_delete_allowed() -> Iterator[None]:
    """Opened only by the erasure and the merge in customers/services/ (erasure.py, people.py)."""
    token = _person_delete_allowed.set(True)
    try:
        yield
    finally:
        _person_delete_allowed.reset(token)


def person_delete_guard(sender: type[models.Model], instance: Person, **kwargs: Any) -> None:
    """pre_delete of Person (connected in apps.py): every way of deleting a row passes here, the
    admin's delete buttons, a queryset's delete() in a shell, a cascade."""
    if not _person_delete_allowed.get():
        raise PersonDeleteRefused(
            f"person {instance.pk} was not deleted: erase people with customers.services.erasure "
            "person_erase or person_erase_record, which leave a suppression and a deletion receipt"
        )


class Identity(models.Model):
    """Another id that names the same person: an anonymousId, or a former userId taken over by `alias`."""

    class Kind(models.TextChoices):
        ANONYMOUS = "anonymous", "anonymousId"
        ALIAS = "alias", "previous id (alias)"

    source = models.ForeignKey("integrations.Source", on_delete=models.CASCADE, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    value = models.CharField(max_length=255, help_text="The id as the source sends it.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [models.UniqueConstraint(fields=["source", "value"], name="identity_unique_value")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class Account(TraitsRecord):
    """A company the customers belong to, from `group` (groupId "acme-1", traits name, plan, ...) or
    from CustomerSuccessBox's `account_id` trait/property."""

    source = models.ForeignKey("integrations.Source", on_delete=models.PROTECT, related_name="accounts")
    group_id = models.CharField(
        max_length=255, help_text="Segment groupId (or CustomerSuccessBox account_id)."
    )
    name = models.CharField(max_length=400, blank=True)
    industry = models.CharField(max_length=200, blank=True)
    employees = models.PositiveIntegerField(null=True, blank=True)
    plan = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(null=True, blank=True, help_text="The account's createdAt trait.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "group_id"], name="account_unique_group")]

    def __str__(self) -> str:
        return self.name or self.group_id


class Membership(models.Model):
    """A person belongs to an account (grouped with it, or linked by account_id)."""

    person = models.ForeignKey(Person, on_delete=models.CASCADE, related_name="memberships")
    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["person", "account"], name="membership_unique")]

    def __str__(self) -> str:
        return f"{self.person} in {self.account}"


def suppression_text(kind: str, value: str) -> str:
    """What is hashed for a suppression: the kind and the value, an email trimmed and lower-cased."""
    return f"{kind}:{value.strip().lower() if kind == 'email' else value}"


def suppression_hash(kind: str, value: str) -> str:
    """The keyed hash a new suppression or receipt stores (never the id or email itself).

    Matching looks under every key: customers/selectors.py `suppressions_for`."""
    return keyed_hash(suppression_text(kind, value))[1]


class Suppression(models.Model):
    """Someone the hub must not survey or recreate: erased (GDPR), unsubscribed, or bounced.

    Erasure is per source (a source's delete is about that source's person): it stops the records of
    that source and its surveys. An unsubscribed or bounced email address is suppressed hub-wide (no
    source): no survey of any source or collector reaches it. E.g. kind "email", reason "unsubscribed",
    no source, value_hash = HMAC of "email:ann@example.com" under the key `key_id`.
    """

    class Reason(models.TextChoices):
        DELETED = "deleted", "erased on request"
        UNSUBSCRIBED = "unsubscribed", "unsubscribed"
        BOUNCED = "bounced", "email bounced"

    source = models.ForeignKey(
        "integrations.Source",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="+",
        help_text="The source whose person it is; empty: every source (an unsubscribed or bounced address).",
    )
    kind = models.CharField(max_length=16, help_text="What was hashed: user_id or email.")
    value_hash = models.CharField(
        max_length=64, help_text="Keyed hash (HMAC-SHA256) of the user id or lower-cased email."
    )
    key_id = models.CharField(
        max_length=16,
        blank=True,
        help_text="Which HUB_HASH_KEYS key hashed it; 'sha256': a bare SHA-256 from before keyed hashes.",
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "do-not-contact entry"
        verbose_name_plural = "do-not-contact list"
        constraints = [
            models.UniqueConstraint(
                fields=["source", "kind", "value_hash"],
                condition=Q(source__isnull=False),
                name="suppression_unique",
            ),
            models.UniqueConstraint(
                fields=["kind", "value_hash"], condition=Q(source__isnull=True), name="suppression_unique_hub"
            ),
        ]
        indexes = [models.Index(fields=["value_hash"], name="suppression_hash")]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} ({self.kind} {self.value_hash[:10]}…)"

    @property
    def described(self) -> str:
        """E.g. "unsubscribed on 2026-11-02", as the "why (not) surveyed" explainer says it."""
        return f"{self.get_reason_display()} on {self.created_at:%Y-%m-%d}"


class DeletionReceipt(models.Model):
    """Proof of an erasure: when, what was erased, and who asked (a source's delete call or staff)."""

    source = models.ForeignKey("integrations.Source", on_delete=models.PROTECT, related_name="+")
    requested_by = models.CharField(max_length=200, help_text="'source <slug>' or 'staff <username>'.")
    requested_at = models.DateTimeField(default=timezone.now)
    user_id_hash = models.CharField(
        max_length=64, blank=True, help_text="Keyed hash (HMAC-SHA256) of the erased userId."
    )
    erased = models.JSONField(default=dict, help_text="What was erased, e.g. {'people': 1, 'events': 12}.")

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = "erasure receipt"

    def __str__(self) -> str:
        return f"erasure {self.requested_at:%Y-%m-%d %H:%M} by {self.requested_by}"
