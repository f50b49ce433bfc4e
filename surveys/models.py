"""NPS surveys: what to ask (texts, branding, translations), when (triggers, delay windows), and
what happened (invitations and responses)."""

import re
from datetime import time

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from hub.crypto import EncryptedTextField
from integrations.models import WithSecrets
from integrations.registry import UnknownKind, collector_kinds, handler_get
from integrations.segment.calls import ACTIVITY_CALL_TYPES, SegmentCall
from surveys.conditions import conditions_problems

WEEKDAYS = [0, 1, 2, 3, 4]  # Monday..Friday (datetime.weekday())
# Bounds of the numeric settings: far beyond any survey rhythm, far inside what date arithmetic holds
# (a token expiry of a million days made every dispatch run overflow).
MAX_DAYS = 3650  # ten years
MAX_DELAY_MINUTES = 60 * 24 * 365  # one year


def days_validators(minimum: int = 0) -> list[MinValueValidator | MaxValueValidator]:
    return [MinValueValidator(minimum), MaxValueValidator(MAX_DAYS)]


# Texts that become email headers (Subject, the From name, Content-Language): a line break would end
# the header and start another one (e.g. Bcc), so staff cannot enter one. The patterns also go into
# the API schema (JSON Schema, ECMA regexes): `(?![\s\S])` is the end of the text in both dialects,
# where `$` would let a final newline through in Python; blank is not validated (and is its own
# alternative in the schema), so the pattern wants at least one character.
header_text = RegexValidator(
    r"^[^\x00-\x1f\x7f-\x9f\u2028\u2029]+(?![\s\S])",
    message="Enter text without line breaks or control characters (it goes into an email header).",
)
# BCP 47-like: a primary language, then subtags (script, region, variant), e.g. nl, nl-BE, zh-Hant-TW.
language_code = RegexValidator(
    r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*(?![\s\S])",
    message="Enter a language code such as en, nl or nl-BE.",
)

# What survey texts may contain in double braces (spaces inside optional), filled in by
# surveys/services/content.py: {{ company }} is the survey's company name.
PLACEHOLDERS = ("company",)
PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")


def placeholders_valid(text: str) -> None:
    """A field error for a placeholder the hub does not know ({{ unknown }}) or one not closed or
    opened ({{ company }, { company }}), naming the ones allowed; it would reach people as typed."""
    allowed = ", ".join(f"{{{{ {name} }}}}" for name in PLACEHOLDERS)
    unknown = [name for name in PLACEHOLDER.findall(text) if name not in PLACEHOLDERS]
    if unknown:
        raise ValidationError(
            "Unknown placeholder {{ %(name)s }}: the texts can use %(allowed)s.",
            code="placeholder_unknown",
            params={"name": unknown[0], "allowed": allowed},
        )
    rest = PLACEHOLDER.sub("", text)
    if "{{" in rest or "}}" in rest:
        raise ValidationError(
            "A placeholder is not closed or not opened: the texts can use %(allowed)s, with both "
            "double braces.",
            code="placeholder_unbalanced",
            params={"allowed": allowed},
        )


def default_weekdays() -> list[int]:
    return list(WEEKDAYS)


class SurveyTexts(models.Model):
    """The words of a survey; a translation leaves blank what it does not translate."""

    subject = models.CharField(
        max_length=200, blank=True, validators=[header_text, placeholders_valid], help_text="Email subject."
    )
    question = models.CharField(
        validators=[placeholders_valid],
        max_length=300,
        blank=True,
        help_text="The NPS question; {{ company }} is replaced by the company name.",
    )
    low_label = models.CharField(
        validators=[placeholders_valid],
        max_length=60,
        blank=True,
        help_text="Label under 0, e.g. 'Not likely'.",
    )
    high_label = models.CharField(
        validators=[placeholders_valid],
        max_length=60,
        blank=True,
        help_text="Label under 10, e.g. 'Very likely'.",
    )
    followup_detractor = models.CharField(
        validators=[placeholders_valid], max_length=300, blank=True, help_text="Follow-up question for 0-6."
    )
    followup_passive = models.CharField(
        validators=[placeholders_valid], max_length=300, blank=True, help_text="Follow-up question for 7-8."
    )
    followup_promoter = models.CharField(
        validators=[placeholders_valid], max_length=300, blank=True, help_text="Follow-up question for 9-10."
    )
    thank_you = models.TextField(
        validators=[placeholders_valid], blank=True, help_text="Shown after the answers are sent."
    )
    footer = models.TextField(
        validators=[placeholders_valid], blank=True, help_text="Small print under the email and the pages."
    )

    TEXT_FIELDS = (
        "subject",
        "question",
        "low_label",
        "high_label",
        "followup_detractor",
        "followup_passive",
        "followup_promoter",
        "thank_you",
        "footer",
    )

    class Meta:
        abstract = True


class Survey(SurveyTexts):
    """An NPS survey, e.g. "Onboarding NPS": asked 3 to 14 days after signup, at most twice a year."""

    name = models.CharField(max_length=200, unique=True, help_text="Staff-facing name.")
    slug = models.SlugField(max_length=100, unique=True)
    automation_enabled = models.BooleanField(
        "automation", default=False, help_text="Off: the survey sends nothing, whatever its triggers."
    )
    company_name = models.CharField(
        max_length=200,
        blank=True,
        validators=[header_text],
        help_text="Replaces {{ company }} in texts (the subject too).",
    )
    default_language = models.CharField(
        max_length=35,
        default="en",
        validators=[language_code],
        help_text="Used when the person's language has no translation.",
    )
    sender_name = models.CharField(
        max_length=200, blank=True, validators=[header_text], help_text="Name in the From header."
    )
    sender_email = models.EmailField(blank=True, help_text="From address; DEFAULT_FROM_EMAIL when blank.")
    reply_to = models.EmailField(blank=True, help_text="Where replies to the email go.")
    tags = models.JSONField(
        default=list, blank=True, help_text='Optional tag ratings, e.g. ["Support", "Price"].'
    )
    tag_scale = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(2), MaxValueValidator(10)],
        help_text="Each tag is rated from 1 to this number.",
    )
    logo_url = models.URLField(blank=True, help_text="Logo shown on top of the email and the pages.")
    accent_color = models.CharField(
        max_length=7,
        default="#2f6fed",
        validators=[RegexValidator(r"^#[0-9a-fA-F]{6}$", "Use #RRGGBB.")],
        help_text="Buttons and links, as #RRGGBB.",
    )
    min_delay_days = models.PositiveIntegerField(
        default=0,
        validators=days_validators(),
        help_text="Ask no earlier than this many days after the person's createdAt (at most 3650).",
    )
    max_delay_days = models.PositiveIntegerField(
        default=0,
        validators=days_validators(),
        help_text="Ignore people created longer ago than this (at most 3650). 0: no limit (only the "
        "re-survey interval).",
    )
    resurvey_interval_days = models.PositiveIntegerField(
        default=182,
        validators=days_validators(),
        help_text="Ask the same person again at most once in this many days (26 weeks; at most 3650).",
    )
    token_expiry_days = models.PositiveIntegerField(
        default=30,
        validators=days_validators(minimum=1),
        help_text="Links in the email work this many days (1 to 3650).",
    )
    send_window_enabled = models.BooleanField(
        default=False, help_text="Send only inside the window below, in the recipient's time zone."
    )
    send_window_days = models.JSONField(
        default=default_weekdays, blank=True, help_text="Weekdays to send on, 0 = Monday ... 6 = Sunday."
    )
    send_window_start = models.TimeField(default=time(9, 0), help_text="Local time the window opens.")
    send_window_end = models.TimeField(default=time(17, 0), help_text="Local time the window closes.")
    send_window_timezone = models.CharField(
        max_length=64, default="UTC", help_text="Time zone for people whose own is unknown."
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.max_delay_days and self.min_delay_days > self.max_delay_days:
            raise ValidationError({"min_delay_days": "The minimum delay is larger than the maximum delay."})
        days = self.send_window_days
        if not isinstance(days, list) or not all(isinstance(d, int) and 0 <= d <= 6 for d in days):
            raise ValidationError({"send_window_days": "A list of weekday numbers, 0 (Monday) to 6."})
        if self.send_window_enabled and not days:
            raise ValidationError({"send_window_days": "Pick at least one weekday."})
        if self.send_window_start >= self.send_window_end:
            raise ValidationError({"send_window_end": "The window must close after it opens."})


class SurveyTranslation(SurveyTexts):
    """The survey's texts in one language, e.g. "nl" (also used for "nl-BE" when there is no "nl-BE")."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="translations")
    language = models.CharField(
        max_length=35, validators=[language_code], help_text="Language code, e.g. nl or nl-BE."
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["survey", "language"], name="translation_unique")]

    def __str__(self) -> str:
        return f"{self.survey} ({self.language})"


# A trigger fires on a Segment call about what a person does, or on a collector's inbound webhook.
CALL_TYPES = [
    *((call, label) for call, label in SegmentCall.choices if call in ACTIVITY_CALL_TYPES),
    ("webhook", "inbound webhook"),
]


class Trigger(models.Model):
    """What makes a survey consider a person, e.g. identify calls from "web-app" (the Callexa model),
    or track "Order Completed", optionally only when traits.plan equals "pro"."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="triggers")
    source = models.ForeignKey("integrations.Source", on_delete=models.CASCADE, related_name="triggers")
    call_type = models.CharField(max_length=16, choices=CALL_TYPES, default=SegmentCall.IDENTIFY)
    event_name = models.CharField(
        max_length=255, blank=True, help_text="Track event (or page/screen name); blank: any."
    )
    conditions = models.JSONField(
        default=list,
        blank=True,
        help_text='All must hold, e.g. [{"path": "traits.plan", "op": "equals", "value": "pro"}, '
        '{"path": "traits.email", "op": "exists"}, '
        '{"path": "traits.country", "op": "in", "value": ["BE", "NL"]}].',
    )
    enabled = models.BooleanField(default=True)

    def __str__(self) -> str:
        what = f"{self.call_type} {self.event_name}".strip()
        return f"{what} from {self.source}"

    def clean(self) -> None:
        problems = conditions_problems(conditions=self.conditions)
        if problems:
            raise ValidationError({"conditions": problems})


class SurveyPolicy(models.Model):
    """Rules across all surveys (one row)."""

    global_cap_days = models.PositiveIntegerField(
        default=0,
        validators=days_validators(),
        help_text="No person gets more than one survey (of any kind) in this many days (at most 3650). "
        "0: off.",
    )

    class Meta:
        verbose_name = verbose_name_plural = "survey policy"

    def __str__(self) -> str:
        return "Survey policy"

    @classmethod
    def current(cls) -> "SurveyPolicy":
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy


class Invitation(models.Model):
    """One survey email to one person, from scheduled to sent (and responded), exactly once."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled"
        SENDING = "sending"
        SENT = "sent"
        RESPONDED = "responded"
        EXPIRED = "expired"
        CANCELLED = "cancelled"
        FAILED = "failed"

    OPEN = (Status.SCHEDULED, Status.SENDING)

    # No index of their own: the indexes below start with them (invitation_person, invitation_survey_sent),
    # and each index is one more write per invitation the trigger handler inserts.
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="invitations", db_index=False)
    person = models.ForeignKey(
        "customers.Person",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitations",
        db_index=False,
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SCHEDULED)
    due_at = models.DateTimeField(help_text="When it may be sent (inside the send window).")
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a dispatcher took it.")
    sent_at = models.DateTimeField(null=True, blank=True)
    responded_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why sending failed or the invitation was cancelled.")
    attempts = models.PositiveSmallIntegerField(default=0)
    language = models.CharField(max_length=35, blank=True, help_text="Language of the texts used.")
    trigger_event = models.ForeignKey(
        "integrations.InboundEvent", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["survey", "person"],
                condition=Q(status__in=["scheduled", "sending"]),
                name="invitation_one_open_per_person",
            ),
        ]
        indexes = [
            models.Index(
                fields=["due_at"], condition=Q(status__in=["scheduled", "sending"]), name="invitation_due"
            ),
            models.Index(fields=["person", "survey", "created_at"], name="invitation_person"),
            # A report's response rate: a survey's invitations sent in a period.
            models.Index(fields=["survey", "sent_at"], name="invitation_survey_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.survey} → {self.person or 'erased person'} ({self.status})"


class Response(models.Model):
    """A person's answer: the 0-10 rating (one click), then the follow-up comment and tag ratings."""

    invitation = models.OneToOneField(Invitation, on_delete=models.CASCADE, related_name="response")
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    person = models.ForeignKey(
        "customers.Person", null=True, blank=True, on_delete=models.SET_NULL, related_name="responses"
    )
    rating = models.PositiveSmallIntegerField(validators=[MaxValueValidator(10)])
    comment = models.TextField(blank=True, help_text="Answer to the follow-up question.")
    comment_band = models.CharField(
        max_length=10,
        blank=True,
        help_text="The band whose follow-up question the comment answers (promoter, passive, detractor); "
        "after a change of score to another band the comment waits for the person to keep or change it, "
        "and is not sent meanwhile. Empty: answers from before this field, taken as the current band's.",
    )
    tag_ratings = models.JSONField(default=dict, blank=True, help_text='e.g. {"Support": 5, "Price": 3}.')
    language = models.CharField(max_length=35, blank=True)
    answered_at = models.DateTimeField(default=timezone.now, help_text="First answer (the click).")
    rated_at = models.DateTimeField(
        default=timezone.now,
        help_text="When the current rating was given: the first answer, or the last change of the score "
        "(a comment or tag added later leaves it). The sync-back's NPS_date. Answers from before this "
        "field existed have their first answer's time.",
    )
    superseded_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the person next answered this survey; empty on their latest answer (and on an "
        "erased person's answers). Kept by surveys/services/responses.py (answers_supersede) for the "
        "reports, which count each person's latest answer in a period.",
    )
    hub_superseded_at = models.DateTimeField(
        null=True,
        blank=True,
        editable=False,
        help_text="When the person next answered any survey; empty on their latest answer (and on an "
        "erased person's answers). Kept with superseded_at, for the hub-wide reports, which count a "
        "person once across surveys.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "answer"
        indexes = [
            # A survey's answers in a period (reports, themes); person and rating in the index too, so
            # a report's counts read the index alone (insights/services/reports.py).
            models.Index(fields=["survey", "answered_at", "person", "rating"], name="response_survey_report"),
            # Each person's latest answer in a period (reports: DISTINCT ON, LAG over a person's answers
            # newest first) read in that order from the index alone, without a sort.
            models.Index(
                fields=["survey", "person", "-answered_at", "-id", "rating"], name="response_survey_person"
            ),
            # A person's next answer to any survey (hub_superseded_at, surveys/services/responses.py):
            # one probe per answer, in the order of a person's answers.
            models.Index(fields=["person", "answered_at", "id"], name="response_person_next"),
            # The sync-back cursor pages through answers by (updated_at, id).
            models.Index(fields=["updated_at", "id"], name="response_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.rating} for {self.survey}"

    @property
    def band(self) -> str:
        return score_band(self.rating)

    @property
    def comment_stale(self) -> bool:
        """The comment answers another band's question than the current score's (kept until the person
        keeps or changes it on the survey page)."""
        return comment_is_stale(comment=self.comment, comment_band=self.comment_band, rating=self.rating)

    @property
    def comment_sent(self) -> str:
        """The comment as sent out (hub events, the sync-back): empty while it is stale."""
        return "" if self.comment_stale else self.comment


# NPS bands and the ratings in each, highest first.
SCORE_BANDS = {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)}


def score_band(rating: int) -> str:
    """NPS bands: 0-6 detractor, 7-8 passive, 9-10 promoter."""
    return next((band for band, (low, _) in SCORE_BANDS.items() if rating >= low), "detractor")


def comment_is_stale(*, comment: str, comment_band: str, rating: int) -> bool:
    """A comment given for another band's follow-up question than the band of `rating`."""
    return bool(comment and comment_band and comment_band != score_band(rating))


# --- collectors: webhook-triggered invitations (SurveyLab's model; services/collectors.py) ----------


def collector_topic_actions_default() -> dict[str, str]:
    return {"conversation.admin.closed": "addContactToCollector"}


class Collector(WithSecrets):
    """A way into a survey for any tool that can call a webhook, e.g. "Intercom: closed conversations"
    (email invitations, 10 minutes after an agent closes a conversation).

    `kind` names the source kind of its webhook link (integrations/registry.py HANDLERS: intercom,
    zendesk); `settings` and `secrets` are that kind's (its `settings_schema`). Its links carry the
    collector id and a secret token: the webhook link
    (`/api.php?apiToken=<token>&cId=<id>&source=intercom&action=addContactToCollector`) its own, the
    links for other tools (add a contact, turn on, turn off) another, so that once the kind's signing
    secret is set the webhook link takes only signed calls. Each call is stored in the event log under
    the collector's own source, where the contacts it adds live.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", "email invitation"
        SMS = "sms", "SMS invitation (not configured: no SMS backend yet)"

    survey = models.ForeignKey(
        Survey,
        on_delete=models.CASCADE,
        related_name="collectors",
        verbose_name="survey",
        help_text="The survey the contacts are invited to.",
    )
    name = models.CharField("name", max_length=200, help_text="What calls it, e.g. 'Intercom: closed chats'.")
    kind = models.CharField(
        "kind",
        max_length=50,
        default="intercom",
        help_text="Which tool calls its webhook link (integrations/registry.py): intercom, zendesk.",
    )
    settings = models.JSONField(
        "settings", default=dict, blank=True, help_text="The kind's options as JSON (most kinds have none)."
    )
    channel = models.CharField(
        "type",
        max_length=16,
        choices=Channel.choices,
        default=Channel.EMAIL,
        help_text="How contacts are invited. SMS answers 'not configured' until an SMS backend exists.",
    )
    enabled = models.BooleanField(
        "on",
        default=True,
        help_text="Off: calls are recorded and answered 'collector off', nothing is sent. The "
        "turnOnCollector and turnOffCollector actions switch this.",
    )
    token_hash = models.CharField(
        max_length=64, editable=False, help_text="SHA-256 of the webhook link's token."
    )
    token = EncryptedTextField(
        "webhook link token",
        editable=False,
        help_text="Part of the webhook link (Intercom's, Zendesk's); encrypted at rest, compared by hash. "
        "With the kind's signing secret set, this link takes only signed calls.",
    )
    generic_token_hash = models.CharField(
        max_length=64, editable=False, default="", help_text="SHA-256 of the other tools' links' token."
    )
    generic_token = EncryptedTextField(
        "API link token",
        editable=False,
        default="",
        help_text="Part of the links for other tools (add a contact, turn on, turn off); encrypted at "
        "rest, compared by hash. Never part of the webhook link.",
    )
    unsigned_calls = models.BooleanField(
        "accept unsigned calls from other tools",
        default=False,
        help_text="Matters only once the kind's signing secret is set: then calls through the API link "
        "(other tools, which nobody signs) are refused unless this is on. The webhook link never takes "
        "them once the secret is set.",
    )
    delay_minutes = models.PositiveIntegerField(
        "delay (minutes)",
        default=0,
        validators=[MaxValueValidator(MAX_DELAY_MINUTES)],
        help_text="Send this long after the call (then inside the survey's send window; at most a "
        "year, 525600). 0: right away.",
    )
    resurvey_days = models.PositiveIntegerField(
        "re-survey protection (days)",
        default=0,
        validators=days_validators(),
        help_text="A contact this collector invited is not invited by it again within this many days "
        "(at most 3650). The survey's own interval and the global cap apply as well. 0: only those.",
    )
    topic_actions = models.JSONField(
        "topics",
        default=collector_topic_actions_default,
        blank=True,
        help_text='Which topic of the webhook does what, e.g. {"conversation.admin.closed": '
        '"addContactToCollector"} (Intercom), {"ticket.solved": "addContactToCollector"} (Zendesk). '
        "Actions: addContactToCollector, turnOnCollector, turnOffCollector. Other topics are recorded "
        "and ignored.",
    )
    source = models.ForeignKey(
        "integrations.Source",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="collectors",
        verbose_name="source",
        help_text="Where the calls are logged and the contacts kept; created with the collector "
        "(collector-<id>). Collectors sharing a source share their contacts.",
    )
    created_at = models.DateTimeField("created at", default=timezone.now, editable=False)
    updated_at = models.DateTimeField("updated at", auto_now=True)

    ACTIONS = ("addContactToCollector", "turnOnCollector", "turnOffCollector")

    class Meta:
        ordering = ["survey__name", "name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.survey})" if self.survey_id else self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.kind not in collector_kinds():
            errors["kind"] = f"One of {', '.join(collector_kinds())}."
        actions = self.topic_actions
        if not isinstance(actions, dict) or not all(
            isinstance(topic, str) and value in self.ACTIONS for topic, value in actions.items()
        ):
            errors["topic_actions"] = f"An object from topic to one of {', '.join(self.ACTIONS)}."
        if errors:
            raise ValidationError(errors)

    def kind_label(self) -> str:
        try:
            return handler_get(self.kind).label
        except UnknownKind:
            return self.kind


class SyncCursor(models.Model):
    """How far a sync-back destination got, e.g. "Segment (prod)": every person whose latest response
    is at or before (updated_at 2026-11-02 03:00:01.5, response 4211) in (updated_at, id) order was
    delivered. `batch_delivery` is the batch sent after that point and not yet confirmed delivered,
    covering responses up to (`batch_until_updated_at`, `batch_until_response_id`).

    Written only by surveys/services/sync_back.py; it moves when the engine reports a batch's
    Delivery delivered.
    """

    destination = models.OneToOneField(
        "integrations.Destination",
        on_delete=models.CASCADE,
        related_name="sync_cursor",
        verbose_name="destination",
        help_text="The sync-back destination this cursor belongs to.",
    )
    last_response_updated_at = models.DateTimeField(
        "synced up to (updated at)",
        null=True,
        blank=True,
        help_text="updated_at of the last response delivered; empty: nothing synced yet.",
    )
    last_response_id = models.BigIntegerField(
        "synced up to (response id)", default=0, help_text="Breaks ties between equal updated_at values."
    )
    batch_delivery = models.ForeignKey(
        "integrations.Delivery",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name="batch in progress",
        help_text="The batch sent after the cursor and not yet delivered (a later run finishes it).",
    )
    batch_until_updated_at = models.DateTimeField(
        "batch until (updated at)", null=True, blank=True, help_text="Where the cursor moves once it is."
    )
    batch_until_response_id = models.BigIntegerField("batch until (response id)", null=True, blank=True)
    last_run_at = models.DateTimeField("last run", null=True, blank=True)
    last_success_at = models.DateTimeField(
        "last complete run", null=True, blank=True, help_text="When a run last sent everything it found."
    )
    updated_at = models.DateTimeField("updated at", auto_now=True)

    class Meta:
        verbose_name = "sync-back cursor"
        # Its table from when it lived in integrations (moved, rows and all: surveys migration 0008).
        db_table = "integrations_synccursor"

    def __str__(self) -> str:
        return f"sync-back up to {self.last_response_updated_at} #{self.last_response_id}"
