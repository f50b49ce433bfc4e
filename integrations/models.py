"""Where data enters the hub: sources, their write keys, the durable event log, attribute mappings."""

import hashlib
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from hub.crypto import EncryptedTextField
from integrations.mappings import rule_errors


class Source(models.Model):
    """A stream of Segment calls, e.g. "Production web app", authenticated by its write keys."""

    name = models.CharField(max_length=200, help_text="What this source is, e.g. 'Production web app'.")
    slug = models.SlugField(max_length=100, unique=True, help_text="Short unique name used in URLs and logs.")
    enabled = models.BooleanField(
        default=True, help_text="A disabled source answers 401 to every call, as an unknown key does."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


def write_key_hash(key: str) -> str:
    """The lookup form of a write key: keys are compared by hash, stored encrypted, never in clear."""
    return hashlib.sha256(key.encode()).hexdigest()


def write_key_generate() -> str:
    return secrets.token_urlsafe(24)


class WriteKey(models.Model):
    """A Segment write key of a source. A source may hold several, to rotate one without downtime."""

    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="write_keys")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key = EncryptedTextField(editable=False, help_text="Encrypted at rest; shown only on the source's page.")
    hint = models.CharField(max_length=16, editable=False, help_text="The key masked, for lists and logs.")
    label = models.CharField(max_length=100, blank=True, help_text="Optional: where this key is used.")
    enabled = models.BooleanField(default=True, help_text="A disabled key is refused with 401.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return self.hint

    @staticmethod
    def mask(key: str) -> str:
        return f"{key[:4]}…{key[-4:]}" if len(key) > 12 else "…"

    def set_key(self, key: str) -> None:
        self.key = key
        self.key_hash = write_key_hash(key)
        self.hint = self.mask(key)


class InboundEvent(models.Model):
    """One call received on the intake, e.g. an `identify` for userId "u1": the hub's event log.

    Stored before the intake answers 200; (source, message_id) is unique, so a client's retry of
    the same message is stored once. `timestamp` is Segment's skew-corrected time
    (receivedAt - (sentAt - originalTimestamp)).
    """

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "accepted"
        PROCESSED = "processed", "processed"
        REJECTED = "rejected", "rejected"
        FAILED = "failed", "failed"

    class Type(models.TextChoices):
        IDENTIFY = "identify"
        TRACK = "track"
        PAGE = "page"
        SCREEN = "screen"
        GROUP = "group"
        ALIAS = "alias"
        DELETE = "delete"
        UNKNOWN = "unknown", "unknown (rejected)"

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="events")
    message_id = models.CharField(max_length=100, help_text="Segment messageId (generated when absent).")
    type = models.CharField(max_length=16, choices=Type.choices)
    user_id = models.CharField(max_length=255, blank=True)
    anonymous_id = models.CharField(max_length=255, blank=True)
    event = models.CharField(
        max_length=255, blank=True, help_text="Track event name, or page/screen name (first 255 chars)."
    )
    received_at = models.DateTimeField(help_text="Server clock when the call arrived.")
    timestamp = models.DateTimeField(null=True, blank=True, help_text="Skew-corrected event time.")
    original_timestamp = models.DateTimeField(null=True, blank=True, help_text="The client's own time.")
    sent_at = models.DateTimeField(null=True, blank=True, help_text="Client time when the batch was sent.")
    payload = models.JSONField(help_text="The call as Segment would pass it on (batch context merged in).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACCEPTED)
    reason = models.TextField(blank=True, help_text="Why the event was rejected or failed, or a warning.")
    attempts = models.PositiveSmallIntegerField(default=0, help_text="How often processing was tried.")
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "event"
        constraints = [
            models.UniqueConstraint(fields=["source", "message_id"], name="inbound_event_unique_message"),
        ]
        indexes = [
            # The sweeper's query: accepted events by age (small, as processed rows leave it).
            models.Index(
                fields=["received_at"], condition=Q(status="accepted"), name="inbound_event_pending"
            ),
            models.Index(fields=["user_id"], name="inbound_event_user"),
        ]

    def __str__(self) -> str:
        who = self.user_id or self.anonymous_id or "?"
        return f"{self.type} {self.event or ''} {who}".replace("  ", " ")


class MappingSet(models.Model):
    """A named list of rules that turns a Segment call into the fields one destination expects.

    Example: "CustomerSuccessBox users" (target "customersuccessbox.user", for identify calls) maps
    `traits.firstName` to `first_name` and `traits.address.city` to `mailing_city`. Applied by
    `integrations.mappings.mapping_apply`, the only code that maps traits.
    """

    name = models.CharField(
        "name", max_length=200, unique=True, help_text="What this mapping is for, e.g. 'Wootric end users'."
    )
    slug = models.SlugField(
        "slug", max_length=100, unique=True, help_text="Short unique name connectors refer to the set by."
    )
    description = models.TextField("description", blank=True, help_text="Notes for staff: where it is used.")
    target = models.CharField(
        "destination",
        max_length=100,
        help_text="Which system and object the output is for, e.g. 'customersuccessbox.account'.",
    )
    call_types = models.JSONField(
        "call types",
        default=list,
        blank=True,
        help_text="The Segment call types this set is meant for, e.g. identify; none means any.",
    )
    is_preset = models.BooleanField(
        "shipped preset",
        default=False,
        editable=False,
        help_text="Created by the hub from a vendor's documented field names; edit it freely.",
    )
    updated_at = models.DateTimeField(
        "updated at", auto_now=True, help_text="Changes whenever the set or one of its rules is saved."
    )

    class Meta:
        verbose_name = "attribute mapping"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def touch(self) -> None:
        """Mark the set changed, so compiled copies of it (cached by id and updated_at) are dropped."""
        self.updated_at = timezone.now()
        MappingSet.objects.filter(pk=self.pk).update(updated_at=self.updated_at)


class MappingRule(models.Model):
    """One rule of a mapping set: where a value comes from, where it goes, and how it is converted.

    Example: source `traits.createdAt|context.traits.createdAt`, target `created_at`, transform
    "unix seconds, rounded": the first of the two paths that has a value, as whole unix seconds.
    A target `keyValues.team` nests: `{"keyValues": {"team": "Brugge"}}`.
    """

    class Transform(models.TextChoices):
        NONE = "", "none (as sent)"
        UNIX_SECONDS = "unix_seconds", "unix seconds"
        UNIX_SECONDS_ROUNDED = "unix_seconds_rounded", "unix seconds, rounded to the nearest second"
        ISO_DATETIME = "iso_datetime", "ISO 8601 date and time (UTC)"
        ISO_DATE = "iso_date", "ISO date (YYYY-MM-DD)"
        STRING = "string", "string"
        LOWER = "lower", "lower-case string"
        LOOKUP = "lookup", "lookup table"

    mapping_set = models.ForeignKey(
        MappingSet,
        on_delete=models.CASCADE,
        related_name="rules",
        verbose_name="attribute mapping",
        help_text="The set this rule belongs to.",
    )
    position = models.PositiveIntegerField(
        "position", default=0, help_text="Rules are applied and listed in this order."
    )
    source_paths = models.CharField(
        "source",
        max_length=500,
        help_text="Dotted path into the Segment call, e.g. traits.address.city, properties.plan, userId. "
        "Several separated by | take the first that has a value. traits.firstName also finds first_name.",
    )
    target = models.CharField(
        "target field",
        max_length=200,
        help_text="Field name the destination expects, exactly; a dotted name nests (keyValues.team).",
    )
    transform = models.CharField(
        "transform",
        max_length=32,
        choices=Transform.choices,
        blank=True,
        default=Transform.NONE,
        help_text="How the value is converted; a value that cannot be converted is reported, not sent.",
    )
    options = models.JSONField(
        "options",
        default=dict,
        blank=True,
        help_text='Settings of the transform. A lookup table: {"table": {"en": "<GUID>", "nl": "<GUID>"}}.',
    )
    default = models.JSONField(
        "default",
        null=True,
        blank=True,
        help_text="Sent when the call has no value (or an unusable one), e.g. General. Empty: no default.",
    )
    required = models.BooleanField(
        "required", default=False, help_text="A call without this value is reported as a problem."
    )

    class Meta:
        verbose_name = "rule"
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["mapping_set", "target"], name="mapping_rule_unique_target"),
        ]

    def __str__(self) -> str:
        return f"{self.source_paths} → {self.target}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        self.mapping_set.touch()

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        mapping_set = self.mapping_set
        result = super().delete(*args, **kwargs)
        mapping_set.touch()
        return result

    def clean(self) -> None:
        errors = rule_errors(
            source_paths=self.source_paths, target=self.target, transform=self.transform, options=self.options
        )
        if errors:
            raise ValidationError(errors)
