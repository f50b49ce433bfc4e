"""Where data enters the hub: sources, their write keys, and the durable event log."""

import hashlib
import secrets

from django.db import models
from django.db.models import Q
from django.utils import timezone

from hub.crypto import EncryptedTextField


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
