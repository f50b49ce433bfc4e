"""What the answers say: each comment's sentiment, language and flag, and each survey's themes.

Nothing here holds a comment's words: an analysis keeps labels and numbers, a theme keeps terms shared
by at least `MIN_TERM_COMMENTS` comments and points at its example quotes (the answers themselves),
so erasing a comment (surveys/services/people.py) leaves nothing of it here either.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from insights.periods import Frequency, PeriodError, zone_check
from surveys.models import Survey

# A theme's term is a word or two-word phrase found in at least this many comments: never one
# person's words.
MIN_TERM_COMMENTS = 3


def terms_shown(terms: list[list[Any]], count: int) -> list[str]:
    """A theme's top `count` terms to show, a two-word phrase standing for its words: "charged twice"
    rather than "charged", "charged twice", "twice"."""
    shown: list[str] = []
    for term, _ in terms:
        words = set(str(term).split())
        if any(words <= set(other.split()) for other in shown):
            continue
        shown = [other for other in shown if not set(other.split()) <= words]
        shown.append(str(term))
        if len(shown) == count:
            break
    return shown


class CommentAnalysis(models.Model):
    """What one answer's comment says, e.g. "negative, in English, from a promoter: flagged".

    Exists for every non-empty comment once analysed (right after it is saved, or by the sweeper);
    deleted when the comment is emptied or erased. `analysed_at` older than the answer's `updated_at`
    means the answer changed since (new comment or score): the sweeper analyses it again.
    """

    class Sentiment(models.TextChoices):
        POSITIVE = "positive"
        NEUTRAL = "neutral"
        NEGATIVE = "negative"
        NOT_SCORED = "not_scored", "not scored (language not covered)"

    response = models.OneToOneField(
        "surveys.Response", on_delete=models.CASCADE, primary_key=True, related_name="analysis"
    )
    sentiment = models.CharField(max_length=16, choices=Sentiment.choices)
    compound = models.FloatField(
        null=True,
        blank=True,
        help_text="VADER's compound score, -1 (most negative) to 1; empty if not scored.",
    )
    language = models.CharField(
        max_length=8,
        blank=True,
        help_text="ISO 639-1 code of the comment's language (detected, or the survey's when the text is "
        "too short to tell); empty if unknown.",
    )
    flagged = models.BooleanField(
        default=False, help_text="A promoter with a negative comment, or a detractor with a positive one."
    )
    theme = models.ForeignKey(
        "Theme",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="analyses",
        help_text="The theme the comment belongs to most (set by the nightly theme job).",
    )
    analysed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "comment"
        verbose_name_plural = "comments"
        indexes = [models.Index(fields=["flagged"], condition=Q(flagged=True), name="analysis_flagged")]

    def __str__(self) -> str:
        return f"comment on answer {self.response_id} ({self.sentiment})"


class Theme(models.Model):
    """Something many comments of a survey talk about, e.g. "invoice / charged twice / refund".

    Found by the nightly theme job; a later run that finds the same theme (similar terms) updates this
    row, so what staff set here (name, hidden, merged into) stays. `active` is off while the latest
    run did not find it.
    """

    survey = models.ForeignKey("surveys.Survey", on_delete=models.CASCADE, related_name="themes")
    name = models.CharField(
        max_length=120, blank=True, help_text="Your name for the theme; blank shows its top terms."
    )
    terms = models.JSONField(
        default=list, help_text='Top terms and their weights, heaviest first: [["invoice", 0.41], ...].'
    )
    hidden = models.BooleanField(default=False, help_text="Left out of reports and the theme list.")
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged",
        help_text="Counted as part of this theme (same survey).",
    )
    quotes = models.ManyToManyField(
        "surveys.Response", blank=True, related_name="+", help_text="Example comments (up to two)."
    )
    active = models.BooleanField(default=True, help_text="Found by the latest run.")
    comments = models.PositiveIntegerField(
        "comments this period",
        default=0,
        help_text="Comments of the latest run's period filed under it (merged ones not included).",
    )
    first_found_at = models.DateTimeField(default=timezone.now)
    last_found_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["survey", "-comments", "pk"]  # most talked about first

    def __str__(self) -> str:
        return self.label

    @property
    def label(self) -> str:
        return self.name or " / ".join(terms_shown(self.terms, 3)) or f"theme {self.pk}"


class ThemeRun(models.Model):
    """One run of the theme job for a survey: the period it read and what it found."""

    survey = models.ForeignKey("surveys.Survey", on_delete=models.CASCADE, related_name="theme_runs")
    ran_at = models.DateTimeField(default=timezone.now)
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    comments = models.PositiveIntegerField(
        "comments this period", default=0, help_text="Comments read (this period and the one before)."
    )
    themes = models.PositiveSmallIntegerField(default=0, help_text="Themes found (0: too few comments).")
    seconds = models.FloatField(default=0)

    class Meta:
        get_latest_by = "ran_at"
        indexes = [models.Index(fields=["survey", "ran_at"], name="theme_run_survey")]

    def __str__(self) -> str:
        return f"themes of {self.survey} at {self.ran_at:%Y-%m-%d %H:%M}"


def _zone_valid(value: str) -> None:
    try:
        zone_check(value)
    except PeriodError as exc:
        raise ValidationError(str(exc)) from exc


class ReportSubscription(models.Model):
    """A staff user's scheduled report email, e.g. "alice: weekly report of Onboarding, Europe/Berlin".

    The period (an ISO week from Monday, or a calendar month) is computed in `time_zone`; the report of
    a period is sent once it has ended, after INSIGHTS_REPORT_SEND_HOUR there. The first report is of
    the period the subscription was created in. Each sending is recorded in `ReportSending`.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="report_subscriptions",
        help_text="The staff member who receives the report, at the email address of their user.",
    )
    survey = models.ForeignKey(
        "surveys.Survey",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="report_subscriptions",
        help_text="Empty: the hub-wide report (every survey).",
    )
    frequency = models.CharField(
        max_length=8,
        choices=[
            (Frequency.WEEKLY.value, "weekly (ISO weeks, Monday to Sunday)"),
            (Frequency.MONTHLY.value, "monthly (calendar months)"),
        ],
        default=Frequency.WEEKLY.value,
    )
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[_zone_valid],
        help_text="IANA time zone (e.g. Europe/Berlin) whose calendar sets the period: a week starts on "
        "Monday at 00:00 there, also across daylight-saving changes.",
    )
    active = models.BooleanField(default=True, help_text="Untick to pause the emails and keep the settings.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["user", "survey", "frequency"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "survey", "frequency"],
                condition=Q(survey__isnull=False),
                name="report_subscription_one_per_survey",
                violation_error_message="This user already has this report for this survey.",
            ),
            models.UniqueConstraint(
                fields=["user", "frequency"],
                condition=Q(survey__isnull=True),
                name="report_subscription_one_hub_wide",
                violation_error_message="This user already has this hub-wide report.",
            ),
        ]

    def __str__(self) -> str:
        of = f"of {self.survey}" if self.survey_id else "hub-wide"
        return f"{self.frequency} report {of} for {self.user}"


class ReportSending(models.Model):
    """The ledger of report emails: one row per subscription and logical period ("2026-W48", "2026-11").

    The unique pair is the claim: a sender inserts the row (status sending) before sending and marks it
    sent after the server accepted the message, so two beat processes, a retry and `report_send` send
    one email per period between them. A failed sending is tried again on the next runs (up to
    MAX_ATTEMPTS); a claim older than INSIGHTS_REPORT_CLAIM_TIMEOUT_SECONDS belongs to a sender that
    died and is taken over (that one message may then arrive twice, with the same Message-ID).
    """

    class Status(models.TextChoices):
        SENDING = "sending"
        SENT = "sent"
        FAILED = "failed"

    MAX_ATTEMPTS = 5

    subscription = models.ForeignKey(ReportSubscription, on_delete=models.CASCADE, related_name="sendings")
    period = models.CharField(max_length=8, help_text='The logical period: "2026-W48" or "2026-11".')
    period_start = models.DateTimeField(help_text="The period's start in UTC (local midnight there).")
    period_end = models.DateTimeField(help_text="The period's end in UTC (excluded).")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.SENDING)
    claimed_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    error = models.TextField(blank=True, help_text="Why the last attempt failed (no address in it).")

    class Meta:
        ordering = ["-claimed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["subscription", "period"], name="report_sending_once_per_period")
        ]

    def __str__(self) -> str:
        return f"report {self.period} of subscription {self.subscription_id} ({self.status})"


class SurveyReport(Survey):
    """A survey seen as its NPS report (the admin's "NPS reports": the hub-wide overview, then one page
    per survey). No table of its own: a proxy of surveys.Survey."""

    class Meta:
        proxy = True
        verbose_name = "NPS report"
        verbose_name_plural = "NPS reports"
