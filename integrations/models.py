"""Where data enters and leaves the hub: sources, their write keys, the durable event log, attribute
mappings, outbound destinations and their deliveries."""

import hashlib
import json
import logging
import secrets
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from hub.crypto import EncryptedTextField
from integrations.base import Problem
from integrations.registry import UnknownKind, connector_get
from integrations.segment.calls import UNKNOWN_CALL_TYPE, SegmentCall

logger = logging.getLogger(__name__)


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


def write_key_lookup_hash(key: str | None) -> str | None:
    """The hash to look a presented write key up by, or None for one no source can have (none, or
    longer than any key the hub stores)."""
    return write_key_hash(key) if key and len(key) <= 200 else None


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


class RefusedCalls(models.Model):
    """Intake calls refused for their write key, counted per source and client address, e.g. 1,204
    calls from 203.0.113.7 with a disabled key of "web-app" (or, with no source, with a key the hub
    does not know), between two times. Never the bodies. Counted in the cache and written at most once a
    minute per row (integrations/refused_calls.py), so refused calls cannot become a write per call."""

    source = models.ForeignKey(
        Source,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="refused_calls",
        help_text="The source of the disabled key; empty: an unknown key (or none), hub-wide.",
    )
    address = models.CharField(
        max_length=64,
        help_text="The client's IPv4 address or IPv6 /64 network; 'many addresses' past the hub's cap.",
    )
    count = models.PositiveBigIntegerField(default=0, help_text="Calls refused (written once a minute).")
    first_seen_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    written_at = models.DateTimeField(default=timezone.now, help_text="When the count was last written.")

    class Meta:
        verbose_name = "refused calls"
        verbose_name_plural = "refused calls"
        ordering = ["-last_seen_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "address"], condition=Q(source__isnull=False), name="refused_calls_unique"
            ),
            models.UniqueConstraint(
                fields=["address"], condition=Q(source__isnull=True), name="refused_calls_unknown_unique"
            ),
        ]
        indexes = [models.Index(fields=["written_at"], name="refused_calls_written")]

    def __str__(self) -> str:
        return f"{self.count} from {self.address}"


# What an erased event or delivery keeps of its payload, and the note it gets instead of its own
# (GDPR erasure, customers/services/erasure.py).
ERASED_PAYLOAD: dict[str, Any] = {"erased": True}
ERASED_REASON = "personal data erased on request"


class Erasure(StrEnum):
    """What the customer-records handler found about the person of a call, for the handlers after it
    in the same batch (`InboundEvent.erasure`, in memory only)."""

    NONE = ""
    # One of the call's ids or its email was erased on request, before this batch or by a delete
    # earlier in it: the call is passed on to nobody.
    SUPPRESSED = "suppressed"
    # Recorded, then erased by a delete later in this batch: its deliveries are queued erased, as
    # they would be had the delete come in a later batch.
    ERASED = "erased"


class InboundEvent(models.Model):
    """One call received on the intake, e.g. an `identify` for userId "u1": the hub's event log.

    Stored before the intake answers 200; (source, message_id) is unique, so a client's retry of
    the same message is stored once. `timestamp` is Segment's skew-corrected time
    (receivedAt - (sentAt - originalTimestamp)).
    """

    class Status(models.TextChoices):
        ACCEPTED = "accepted", "accepted"
        # A collector's add-contact call: recorded, its invitation not yet decided (the pipeline runs
        # on it once, leaving it pending; the collector's decision sets the final status).
        PENDING = "pending", "pending (decision to come)"
        PROCESSED = "processed", "processed"
        REJECTED = "rejected", "rejected"
        FAILED = "failed", "failed"

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="events")
    message_id = models.CharField(max_length=100, help_text="Segment messageId (generated when absent).")
    type = models.CharField(
        max_length=16, choices=[*SegmentCall.choices, (UNKNOWN_CALL_TYPE, "unknown (rejected)")]
    )
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
            # The collectors' sweeper: calls whose decision is still to come.
            models.Index(
                fields=["received_at"], condition=Q(status="pending"), name="inbound_event_undecided"
            ),
            # The dashboard's "calls today" (insights/dashboard.py), and the event log's date filter.
            models.Index(fields=["received_at"], name="inbound_event_received"),
        ]

    # Not stored: set by the customer-records handler for the handlers after it (see Erasure).
    erasure: Erasure = Erasure.NONE
    # Not stored: whom the batch's calls are about as the customer-records handler left them (a
    # customers.selectors.PeopleFound, shared by the batch), so that later handlers need not load the
    # people again; None when it could not say (e.g. an alias or delete in the batch).
    people_found: Any = None

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


def rule_paths(source_paths: str) -> list[str]:
    """A rule's source, "traits.email|context.traits.email", as its paths (the first with a value wins)."""
    return [path.strip() for path in source_paths.split("|")]


def rule_errors(*, source_paths: str, target: str, transform: str, options: Any) -> dict[str, list[str]]:
    """What is wrong with a rule's settings, by field name (empty when it is usable). Also how
    integrations/mappings.py finds a misconfigured rule, saved or not, which it then reports."""
    errors: dict[str, list[str]] = {}
    for path in rule_paths(source_paths):
        if not path or any(not part for part in path.split(".")):
            errors.setdefault("source_paths", []).append(
                f"'{path}' is not a path: write names separated by dots, e.g. traits.address.city."
            )
    if not target.strip() or any(not part.strip() for part in target.split(".")) or "|" in target:
        errors["target"] = ["Write a field name, or names separated by dots to nest (keyValues.team)."]
    if transform and transform not in MappingRule.Transform.values:
        errors["transform"] = [f"Unknown transform '{transform}'."]
    if not isinstance(options, dict):
        errors["options"] = ['Options are a JSON object, e.g. {"table": {"en": "..."}}.']
    elif transform == "lookup" and not isinstance(options.get("table"), dict):
        errors["options"] = ['A lookup needs a table: {"table": {"en": "<value for en>", ...}}.']
    return errors


# --- secrets at rest: destinations' and collectors' -----------------------------------------------------


class WithSecrets(models.Model):
    """A JSON object of secrets (API keys, signing secrets), encrypted at rest, never shown back: a
    destination's connector credentials, a collector's webhook signing secret."""

    secrets = EncryptedTextField(
        "secrets",
        default="{}",
        blank=True,
        help_text="API keys and signing secrets (a JSON object), encrypted at rest; write-only.",
    )

    # Names of the secrets set or removed by `secrets_update` since this object was loaded or saved.
    _secrets_entered: frozenset[str] = frozenset()

    class Meta:
        abstract = True

    def secret_values(self) -> dict[str, str]:
        """The decrypted secrets, e.g. {"signing_secret": "whsec_..."}."""
        try:
            values = json.loads(self.secrets or "{}")
        except ValueError:
            return {}
        return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}

    def secrets_update(self, values: dict[str, str | None]) -> None:
        """Set the given secrets (not saved); a key given as None or "" is removed, others are kept."""
        current = self.secret_values()
        for key, value in values.items():
            if value in (None, ""):
                current.pop(key, None)
            else:
                current[key] = str(value)
        self.secrets = json.dumps(current, sort_keys=True)
        self._secrets_entered = self._secrets_entered | set(values)


# --- outbound: destinations and deliveries (the engine: integrations/deliveries.py) -----------------


class Destination(WithSecrets):
    """Somewhere the hub sends data, e.g. "Ops webhook" (kind webhook, POSTing response.created to
    https://ops.example.com/hooks, signed with its whsec_ secret).

    A destination belongs to one source and receives only that source's people: their forwarded
    calls, their answers and invitations (tenancy). `kind` names a connector in
    integrations/registry.py; `settings` are its options (base URL ...), `secrets` its credentials (a
    JSON object, encrypted at rest, never shown back in clear).
    """

    source = models.ForeignKey(
        Source,
        on_delete=models.PROTECT,
        related_name="destinations",
        verbose_name="source",
        help_text="Whose data this destination receives: only this source's people, calls and answers "
        "(a collector's contacts live in the collector's own source).",
    )
    kind = models.CharField(
        "kind", max_length=50, help_text="Which connector sends the data (integrations/registry.py)."
    )
    name = models.CharField("name", max_length=200, help_text="What this destination is, e.g. 'Ops webhook'.")
    enabled = models.BooleanField(
        "enabled", default=True, help_text="A disabled destination gets no new deliveries; waiting ones wait."
    )
    settings = models.JSONField(
        "settings",
        default=dict,
        blank=True,
        help_text='The connector\'s options as JSON, e.g. {"url": "https://ops.example.com/hooks"}.',
    )
    call_types = models.JSONField(
        "receives",
        default=list,
        blank=True,
        help_text="Hub events (response.created, ...) and Segment call types this destination receives.",
    )
    event_names = models.JSONField(
        "only these event names",
        default=list,
        blank=True,
        help_text="When set, a call with an event name (a track call) is sent only if its name is listed.",
    )
    mapping_set = models.ForeignKey(
        MappingSet,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="destinations",
        verbose_name="attribute mapping",
        help_text="Optional: the attribute mapping the connector applies to each call.",
    )
    rate_limit_per_second = models.FloatField(
        "rate limit (calls per second)",
        null=True,
        blank=True,
        help_text="At most this many calls per second across all workers, e.g. 1; empty: the connector's "
        "own limit, if any.",
    )
    timeout_seconds = models.FloatField(
        "timeout (seconds)", default=5.0, help_text="How long one call may take before it counts as failed."
    )
    max_age_seconds = models.PositiveIntegerField(
        "give up after (seconds)",
        default=4 * 3600,
        help_text="A delivery still failing this long after it was enqueued (or replayed) is dead. "
        "Default 4 hours, as Segment's destinations.",
    )
    next_slot_at = models.DateTimeField(
        "next free call slot",
        null=True,
        blank=True,
        editable=False,
        help_text="Rate limiting: the earliest time the next call may start (shared by every worker).",
    )
    created_at = models.DateTimeField("created at", default=timezone.now, editable=False)
    updated_at = models.DateTimeField("updated at", auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        """Saves; stored secrets that would travel to a new host are dropped first. The admin and the
        API refuse such a change with a field error (`configuration_problems`), so this only catches
        other code paths: a secret is never sent to a host it was not entered for."""
        update_fields = kwargs.get("update_fields")
        if update_fields is None or {"kind", "settings"} & set(update_fields):
            left = self.secrets_left_behind(
                kind=self.kind, settings=self.settings, secrets_entered=self._secrets_entered
            )
            if left:
                logger.warning(
                    "destination %s moved to a new host: secrets %s dropped", self.pk, ", ".join(left)
                )
                self.secrets_update(dict.fromkeys(left))
                if update_fields is not None:
                    kwargs["update_fields"] = {*update_fields, "secrets"}
        super().save(*args, **kwargs)
        self._secrets_entered = frozenset()

    def secrets_left_behind(self, *, kind: str, settings: Any, secrets_entered: Iterable[str]) -> list[str]:
        """The stored secrets that a change to `kind` and `settings` would send to a new host, unless
        entered again (`secrets_entered` names those given with the change). A new host is a
        scheme://host:port no URL setting had before (another path on the same host is not)."""
        if self.pk is None or not isinstance(settings, dict):
            return []
        stored = Destination.objects.filter(pk=self.pk).values_list("kind", "settings").first()
        if stored is None or _origins(kind, settings) <= _origins(*stored):
            return []
        return sorted(set(self.secret_values()) - set(secrets_entered))

    def configuration_problems(
        self, *, kind: str, settings: Any, secrets: Mapping[str, str | None]
    ) -> list[str]:
        """Why this destination cannot be saved with `kind`, `settings` and the secrets given now (None
        removes one): the connector's checks, and stored secrets a new host would receive. For the
        admin and the API; `integrations.base.problem_field` tells which field each is about."""
        if not isinstance(settings, dict):
            return [Problem("settings", 'a JSON object, e.g. {"url": "https://..."}.')]
        probe = Destination(secrets=self.secrets)
        probe.secrets_update(dict(secrets))
        connector = connector_get(kind)
        problems: list[str] = [*connector.settings_schema.unknown_secrets(secrets)]
        problems += connector.validate(settings=settings, secrets=probe.secret_values())
        left = self.secrets_left_behind(kind=kind, settings=settings, secrets_entered=secrets)
        if left:
            problems.append(
                Problem(
                    "secrets",
                    f"enter {', '.join(left)} again with the new host: stored secrets are never sent to a "
                    "host they were not entered for.",
                )
            )
        return problems

    def receives(self, event_type: str, event_name: str | None = None, *, source_id: int) -> bool:
        """Whether an event of this type (and, for track calls, this name) about a person of the
        source `source_id` is for this destination: never another source's."""
        if source_id != self.source_id or event_type not in (self.call_types or []):
            return False
        return not (self.event_names and event_name is not None and event_name not in self.event_names)


def _origins(kind: str, settings: Any) -> frozenset[str]:
    """Whom a destination of this kind with these settings calls (scheme://host:port of its URLs)."""
    try:
        schema = connector_get(kind).settings_schema
    except UnknownKind:
        return frozenset()
    return schema.origins(settings) if isinstance(settings, dict) else frozenset()


class Delivery(models.Model):
    """One outbound call and its fate, e.g. response.created for response 42 to "Ops webhook":
    pending (due at `next_attempt_at`), in flight (a worker holds it until `next_attempt_at`),
    delivered, failed (the remote refused it for good, e.g. 400) or dead (retried until the
    destination's maximum age). Unique per (destination, idempotency key): every attempt and replay
    sends the same key, so the remote can drop repeats.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "pending"
        IN_FLIGHT = "in_flight", "in flight"
        DELIVERED = "delivered", "delivered"
        FAILED = "failed", "failed"
        DEAD = "dead", "dead"

    destination = models.ForeignKey(
        Destination,
        on_delete=models.PROTECT,
        related_name="deliveries",
        verbose_name="destination",
        help_text="Where the call goes. A destination with deliveries cannot be deleted: disable it.",
    )
    event_type = models.CharField(
        "kind", max_length=64, help_text="What happened, e.g. response.created, or a Segment call type."
    )
    payload = models.JSONField("payload", help_text="What the connector sends, built once when enqueued.")
    idempotency_key = models.CharField(
        "idempotency key",
        max_length=200,
        help_text="Sent with every attempt (a webhook's webhook-id), so the remote can drop repeats.",
    )
    status = models.CharField(
        "status", max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField("attempts", default=0, help_text="Calls started so far.")
    next_attempt_at = models.DateTimeField(
        "next attempt at",
        default=timezone.now,
        help_text="Pending: when the next attempt is due. In flight: when the claim expires and another "
        "worker may take it over (its worker died).",
    )
    claimed_at = models.DateTimeField(
        "claimed at", null=True, blank=True, help_text="When the current or last attempt started."
    )
    retry_until = models.DateTimeField(
        "retry until", help_text="Retryable failures after this are final (dead). Replay moves it."
    )
    last_http_status = models.PositiveSmallIntegerField(
        "last HTTP status",
        null=True,
        blank=True,
        help_text="The last attempt's status code; empty: no answer.",
    )
    last_response_excerpt = models.TextField(
        "last response", blank=True, help_text="The start of the last response's body."
    )
    last_error = models.TextField(
        "last error", blank=True, help_text="Why the last attempt failed (timeout, HTTP 503, ...)."
    )
    last_exchange = models.JSONField(
        "last exchange",
        null=True,
        blank=True,
        help_text="The last attempt's request and response, secrets masked.",
    )
    created_at = models.DateTimeField("created at", default=timezone.now, editable=False)
    updated_at = models.DateTimeField("updated at", auto_now=True)
    delivered_at = models.DateTimeField("delivered at", null=True, blank=True)

    class Meta:
        verbose_name = "delivery"
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["destination", "idempotency_key"], name="delivery_unique_destination_key"
            ),
        ]
        indexes = [
            # The delivery loop's query: due pending rows and expired claims, by time.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status__in=["pending", "in_flight"]),
                name="delivery_due",
            ),
            models.Index(fields=["destination", "status"], name="delivery_destination_status"),
            # A rate-limited destination's oldest due row, for the claim's one statement: without it the
            # planner, not knowing which destinations are limited, walks the whole due backlog.
            models.Index(
                fields=["destination", "next_attempt_at"],
                condition=Q(status__in=["pending", "in_flight"]),
                name="delivery_destination_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.idempotency_key} ({self.get_status_display()})"
