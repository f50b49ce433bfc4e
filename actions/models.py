"""Acting on answers: alert rules and their ledger, auto-replies and theirs, cases and their log.

Every ledger row is unique on what it is about (an answer and a rule, an answer, an answer's case), so
a retried request, a second worker or a changed score never alerts, replies or opens a case twice.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from integrations.base import ALERT_KINDS
from surveys.conditions import conditions_problems
from surveys.models import SCORE_BANDS

BAND_CHOICES = [(band, band) for band in SCORE_BANDS]
MAX_DELAY_MINUTES = 60 * 24 * 7  # a week


def bands_default() -> list[str]:
    return ["detractor"]


class AlertRule(models.Model):
    """Who is told about which answers, e.g. "Enterprise detractors": band detractor, comment contains
    "slow", condition account.traits.plan = enterprise, to the CS team's Slack channel at once.

    Every condition given must hold. Each answer fires a rule at most once (`AlertFiring`); a changed
    score or an added comment is evaluated again, so an answer that comes to match fires then.
    """

    class Timing(models.TextChoices):
        IMMEDIATE = "immediate", "at once"
        DAILY = "daily", "daily digest"
        WEEKLY = "weekly", "weekly digest"

    name = models.CharField(
        "name", max_length=200, help_text="What the rule is for, e.g. 'Enterprise detractors'."
    )
    enabled = models.BooleanField(
        "enabled", default=True, help_text="A disabled rule fires for no new answer."
    )
    survey = models.ForeignKey(
        "surveys.Survey",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="alert_rules",
        help_text="Only answers to this survey; empty: every survey (hub-wide).",
    )
    bands = models.JSONField(
        "bands",
        default=bands_default,
        blank=True,
        help_text='Only answers in these bands, e.g. ["detractor"]; empty: any band.',
    )
    score_min = models.PositiveSmallIntegerField(
        "lowest score",
        null=True,
        blank=True,
        validators=[MaxValueValidator(10)],
        help_text="e.g. 0; empty: no bound.",
    )
    score_max = models.PositiveSmallIntegerField(
        "highest score",
        null=True,
        blank=True,
        validators=[MaxValueValidator(10)],
        help_text="e.g. 4; empty: no bound.",
    )
    comment_contains = models.CharField(
        "comment contains",
        max_length=500,
        blank=True,
        help_text="Only answers whose comment contains one of these words or phrases (comma-separated, any "
        "case), e.g. 'slow, cancel'; empty: any comment or none.",
    )
    conditions = models.JSONField(
        "person and account conditions",
        default=list,
        blank=True,
        help_text='Trigger-style conditions, e.g. [{"path": "traits.plan", "op": "equals", "value": '
        '"enterprise"}] about the person, or [{"path": "account.traits.licenses", "op": "at_least", '
        '"value": 100}] about one of their accounts. Operators: equals, exists, in, at_least, at_most.',
    )
    changed_to_detractor = models.BooleanField(
        "only when changed to detractor",
        default=False,
        help_text="Fire only when a person changes their score from passive or promoter to detractor.",
    )
    timing = models.CharField(
        "when",
        max_length=16,
        choices=Timing.choices,
        default=Timing.IMMEDIATE,
        help_text="At once, or collected into a daily or weekly digest (beat; hub/schedule.py).",
    )
    destinations = models.ManyToManyField(
        "integrations.Destination",
        related_name="alert_rules",
        limit_choices_to={"kind__in": ALERT_KINDS},
        help_text="Where the alert goes: Slack, staff email or signed webhook destinations. An answer goes "
        "only to the destinations of its person's source (tenancy).",
    )
    created_at = models.DateTimeField("created at", default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "alert rule"

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        if not isinstance(self.bands, list) or any(band not in SCORE_BANDS for band in self.bands):
            errors["bands"] = [f"A list of bands: {', '.join(SCORE_BANDS)} (or empty for any)."]
        if self.score_min is not None and self.score_max is not None and self.score_min > self.score_max:
            errors["score_max"] = ["The highest score is below the lowest."]
        if problems := conditions_problems(conditions=self.conditions):
            errors["conditions"] = problems
        if errors:
            raise ValidationError(errors)


class AlertFiring(models.Model):
    """The ledger: rule R fired for answer A (once, ever). An immediate rule's deliveries are enqueued
    in the same transaction; a digest rule's wait until its digest (`digested_at`, `digest_key`)."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="firings")
    response = models.ForeignKey("surveys.Response", on_delete=models.CASCADE, related_name="alert_firings")
    fired_at = models.DateTimeField("fired at", default=timezone.now)
    digested_at = models.DateTimeField(
        "in a digest since", null=True, blank=True, help_text="Digest rules: when its digest was sent."
    )
    digest_key = models.CharField(
        "digest", max_length=200, blank=True, help_text="The idempotency key of the digest that listed it."
    )

    class Meta:
        verbose_name = "alert fired"
        verbose_name_plural = "alerts fired"
        constraints = [models.UniqueConstraint(fields=["rule", "response"], name="alert_once_per_answer")]
        indexes = [
            models.Index(
                fields=["rule", "fired_at"], condition=Q(digested_at__isnull=True), name="alert_undigested"
            )
        ]

    def __str__(self) -> str:
        return f"{self.rule} for answer {self.response_id}"


class AutoReply(models.Model):
    """An email to the customer some time after they answered, e.g. to detractors in French:
    "Merci, {first_name}. Nous vous rappelons sous 24 heures." (Hello Customer's auto-responders).

    The band is read when the email is due, so a score changed in the meantime gets the reply for its
    new band (or none). `{first_name}` and `{name}` in the subject or body are the person's.
    """

    name = models.CharField("name", max_length=200, help_text="e.g. 'Detractors, French'.")
    enabled = models.BooleanField("enabled", default=True)
    survey = models.ForeignKey(
        "surveys.Survey",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="auto_replies",
        help_text="Only answers to this survey; empty: every survey (a survey's own reply wins).",
    )
    band = models.CharField("band", max_length=16, choices=BAND_CHOICES, help_text="Which answers get it.")
    language = models.CharField(
        "language",
        max_length=35,
        blank=True,
        help_text="The answer's language, e.g. 'fr'; empty: answers in any language without their own reply.",
    )
    subject = models.CharField("subject", max_length=200, help_text="e.g. 'Thank you for your answer'.")
    body = models.TextField("body", help_text="Plain text. {first_name} and {name} are the person's.")
    delay_minutes = models.PositiveIntegerField(
        "send after (minutes)",
        default=30,
        validators=[MaxValueValidator(MAX_DELAY_MINUTES)],
        help_text="How long after the answer, so a changed score is taken into account. Default 30.",
    )
    created_at = models.DateTimeField("created at", default=timezone.now, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = "auto-reply"
        verbose_name_plural = "auto-replies"

    def __str__(self) -> str:
        return self.name


class AutoReplySend(models.Model):
    """The one auto-reply an answer may get, from scheduled to sent (or skipped, with why)."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        SENDING = "sending"
        SENT = "sent"
        SKIPPED = "skipped"
        FAILED = "failed"

    response = models.OneToOneField("surveys.Response", on_delete=models.CASCADE, related_name="auto_reply")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    due_at = models.DateTimeField("due at", help_text="When it may be sent.")
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    reply = models.ForeignKey(
        AutoReply,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sends",
        help_text="The text sent.",
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    reason = models.CharField(
        max_length=200,
        blank=True,
        help_text="Why it was skipped or failed (never an address), e.g. 'unsubscribed'.",
    )

    class Meta:
        verbose_name = "auto-reply sent"
        verbose_name_plural = "auto-replies sent"
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status__in=["scheduled", "sending"]), name="autoreply_due"
            )
        ]

    def __str__(self) -> str:
        return f"auto-reply for answer {self.response_id} ({self.status})"


class Case(models.Model):
    """A detractor's answer someone must act on, e.g. "3/10, too slow" from Ann at Acme: owned by a
    staff member, open → in progress → closed by its due date; replies to the customer and notes are
    logged (`CaseEntry`); closing may ask the customer "did we solve it?" (`solved`)."""

    class Status(models.TextChoices):
        OPEN = "open", "open"
        IN_PROGRESS = "in_progress", "in progress"
        CLOSED = "closed", "closed"

    response = models.OneToOneField("surveys.Response", on_delete=models.CASCADE, related_name="case")
    survey = models.ForeignKey("surveys.Survey", on_delete=models.CASCADE, related_name="cases")
    person = models.ForeignKey(
        "customers.Person",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases",
        help_text="Empty once the person was erased.",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases",
        help_text="The staff member who acts on it.",
    )
    status = models.CharField(
        "status", max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    due_at = models.DateTimeField(
        "due", help_text="When it should be closed (CASES_DUE_HOURS after it opened)."
    )
    opened_at = models.DateTimeField("opened", default=timezone.now)
    closed_at = models.DateTimeField("closed", null=True, blank=True)
    followup_sent_at = models.DateTimeField("'did we solve it?' sent", null=True, blank=True)
    solved = models.BooleanField("solved, says the customer", null=True, blank=True)
    solved_answered_at = models.DateTimeField("customer answered", null=True, blank=True)

    class Meta:
        ordering = ["-opened_at"]
        indexes = [models.Index(fields=["status", "opened_at"], name="case_status_opened")]

    def __str__(self) -> str:
        return f"Case {self.pk}: {self.response.rating}/10 on {self.survey}"


class CaseEntry(models.Model):
    """One line of a case's log: a note, a reply to the customer, a change, the customer's answer."""

    class Kind(models.TextChoices):
        OPENED = "opened", "opened"
        NOTE = "note", "note"
        REPLY = "reply", "reply to the customer"
        STATUS = "status", "status changed"
        FOLLOWUP_SENT = "followup_sent", "'did we solve it?' sent"
        FOLLOWUP_ANSWER = "followup_answer", "customer's answer"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="entries")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]
        verbose_name = "case log entry"
        verbose_name_plural = "case log"

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on case {self.case_id}"
