"""Reading comment analysis: each theme's share among promoters, passives and detractors in a period,
and its change from the period before. For the admin's themes page, and for reports (`themes_for`).

A share is per comment: of the comments given with a score in a band during the period (answered_at
in [start, end)), the part filed under the theme (themes merged into it included). The change is in
percentage points against the period of the same length right before.

Each run files the comments of its two periods; an older comment keeps the theme the last run that
read it gave it (a theme found again keeps its row, so mostly the same one).

Also the report emails' schedule as read by the admin and the sender: the period due for a
subscription (`report_period_due`), its next report, and the ledger rows.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from django.conf import settings
from django.db.models import Case, CharField, Count, IntegerField, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from insights.models import CommentAnalysis, ReportSending, ReportSubscription, Theme, ThemeRun, terms_shown
from insights.periods import Frequency, ReportPeriod, period_containing, period_due, send_after
from surveys.models import SCORE_BANDS, Survey

BANDS = ("promoter", "passive", "detractor")


class Period(Protocol):
    """Anything with a start and an end (end excluded), e.g. `Window` or a report's period."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime

    def before(self) -> "Window":
        return Window(start=self.start - (self.end - self.start), end=self.start)


@dataclass(frozen=True)
class ThemeShares:
    """One theme in one period: comments per band, and shares (0..1) of the band's comments."""

    comments: dict[str, int] = field(default_factory=dict)
    shares: dict[str, float | None] = field(default_factory=dict)  # None: no comment in that band
    previous: dict[str, float | None] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.comments.values())

    def change(self, band: str) -> float | None:
        """Percentage points since the period before (None when either has no comment in the band)."""
        now, before = self.shares.get(band), self.previous.get(band)
        return None if now is None or before is None else round(100 * (now - before), 1)


@dataclass(frozen=True)
class ThemeSummary:
    theme_id: int
    label: str
    terms: list[str]
    quotes: list[str]
    shares: ThemeShares


def score_band_expression(rating: str = "rating") -> Case:
    """The band of the score at `rating` (a path to an answer's rating) in SQL, by the rule of
    surveys.models.score_band: each band from its lowest rating, highest band first."""
    *higher, (lowest, _) = SCORE_BANDS.items()
    return Case(
        *[When(**{f"{rating}__gte": low}, then=Value(band)) for band, (low, _) in higher],
        default=Value(lowest),
        output_field=CharField(),
    )


def _counts(survey: Survey, window: Window) -> tuple[dict[int | None, dict[str, int]], dict[str, int]]:
    """({theme group id (None: no theme): {band: comments}}, {band: all comments}) in `window`."""
    rows = (
        CommentAnalysis.objects.filter(
            response__survey=survey,
            response__answered_at__gte=window.start,
            response__answered_at__lt=window.end,
        )
        .exclude(response__comment="")
        .annotate(
            group=Coalesce("theme__merged_into_id", "theme_id", output_field=IntegerField()),
            band=score_band_expression("response__rating"),
        )
        .values_list("group", "band")
        .annotate(comments=Count("pk"))
        .order_by()
    )
    groups: dict[int | None, dict[str, int]] = {}
    totals = dict.fromkeys(BANDS, 0)
    for group, band, comments in rows:
        groups.setdefault(group, {})[band] = comments
        totals[band] += comments
    return groups, totals


def _shares(counts: dict[str, int], totals: dict[str, int]) -> dict[str, float | None]:
    return {band: (counts.get(band, 0) / totals[band] if totals[band] else None) for band in BANDS}


def theme_shares(*, survey: Survey, period: Period) -> dict[int, ThemeShares]:
    """{theme id: its shares} for every theme others are not merged into, in `period`."""
    window = Window(start=period.start, end=period.end)
    groups, totals = _counts(survey, window)
    before, before_totals = _counts(survey, window.before())
    ids = Theme.objects.filter(survey=survey, merged_into=None).values_list("pk", flat=True)
    return {
        pk: ThemeShares(
            comments={band: groups.get(pk, {}).get(band, 0) for band in BANDS},
            shares=_shares(groups.get(pk, {}), totals),
            previous=_shares(before.get(pk, {}), before_totals),
        )
        for pk in ids
    }


def themes_visible(survey: Survey) -> QuerySet[Theme]:
    """The themes a report shows: found by the latest run, not hidden, not merged into another."""
    return Theme.objects.filter(survey=survey, active=True, hidden=False, merged_into=None)


def themes_for(*, survey: Survey, period: Period, limit: int = 12) -> list[ThemeSummary]:
    """The survey's themes in `period`, most talked about first, with their terms, up to two example
    quotes (from the theme and those merged into it) and their shares by band and change."""
    shares = theme_shares(survey=survey, period=period)
    themes = themes_visible(survey).prefetch_related("quotes", "merged__quotes")
    summaries = []
    for theme in themes:
        quotes = [q.comment for q in theme.quotes.all()] + [
            q.comment for member in theme.merged.all() for q in member.quotes.all()
        ]
        summaries.append(
            ThemeSummary(
                theme_id=theme.pk,
                label=theme.label,
                terms=terms_shown(theme.terms, 6),
                quotes=[quote for quote in quotes if quote][:2],
                shares=shares[theme.pk],
            )
        )
    summaries.sort(key=lambda summary: (-summary.shares.total, summary.theme_id))
    return summaries[:limit]


def themes_period(*, survey: Survey) -> Window:
    """The period the themes page shows: the latest run's, else the configured length up to now."""
    run = ThemeRun.objects.filter(survey=survey).order_by("-ran_at", "-pk").first()
    if run is not None:
        return Window(start=run.period_start, end=run.period_end)
    return theme_window(end=timezone.now())


def theme_window(*, end: datetime) -> Window:
    """The theme job's period ending at `end`: INSIGHTS_THEME_PERIOD_DAYS long."""
    return Window(start=end - timedelta(days=settings.INSIGHTS_THEME_PERIOD_DAYS), end=end)


def report_period_due(*, subscription: ReportSubscription, now: datetime) -> ReportPeriod | None:
    """The period whose report is due for `subscription` at `now` (sent already or not), or None."""
    return period_due(
        now,
        frequency=Frequency(subscription.frequency),
        zone=subscription.time_zone,
        hour=settings.INSIGHTS_REPORT_SEND_HOUR,
        since=subscription.created_at,
    )


def report_subscription_next(
    *, subscription: ReportSubscription, now: datetime
) -> tuple[ReportPeriod, datetime | None]:
    """The next report `subscription` will get and when (None: due now, at the beat task's next run)."""
    hour = settings.INSIGHTS_REPORT_SEND_HOUR
    current = period_containing(now, frequency=Frequency(subscription.frequency), zone=subscription.time_zone)
    last = current.previous()
    if last.end > subscription.created_at and now < send_after(last, hour=hour):
        return last, send_after(last, hour=hour)
    due = report_period_due(subscription=subscription, now=now)
    if due is not None and not report_settled(subscription=subscription, period=due):
        return due, None
    return current, send_after(current, hour=hour)


def report_sendings_recent(*, subscription: ReportSubscription, limit: int = 6) -> QuerySet[ReportSending]:
    """The ledger rows of `subscription`, newest first."""
    return ReportSending.objects.filter(subscription=subscription).order_by("-period_start", "-pk")[:limit]


def report_settled(*, subscription: ReportSubscription, period: ReportPeriod) -> str:
    """Why no run will claim `period`'s report of `subscription` any more: "sent already", or given up
    after MAX_ATTEMPTS (the last of them may still be under way); "" while one may: not in the ledger
    yet, being sent, or to be tried again (report_sending_claim's rule)."""
    row = (
        ReportSending.objects.filter(subscription=subscription, period=period.key)
        .values_list("status", "attempts")
        .first()
    )
    if row is None:
        return ""
    status, attempts = row
    if status == ReportSending.Status.SENT:
        return "sent already"
    if attempts >= ReportSending.MAX_ATTEMPTS:
        return f"given up after {attempts} attempts: deleting its ledger row lets it go again"
    return ""
