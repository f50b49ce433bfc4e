"""The report email of one survey (or every survey) and one logical period, for one staff member.

What it shows, each from the one report service (insights/services/reports.py `report_build`):

- the period's score with its 95 % margin (flagged "small sample" below 30 people), how many answered
  of the invitations delivered;
- the change against the previous logical period (the week or month before, in the same time zone,
  not merely the same number of hours before), called significant as insights/stats.py decides;
- the trend of the last TREND_PERIODS weeks or months with its band, as a PNG drawn server-side
  (insights/charts.py) and attached inline: the message is multipart/related and the HTML shows it
  by `cid:`; the text part lists the same points;
- the top themes (insights/selectors.py `themes_for`) and the latest comments per band, cut to
  COMMENT_CHARS; comments are customers' text, escaped by the templates' autoescaping;
- a link to the report in the admin.

An erased person's comments are emptied by the erasure, so no report shows them after it.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from email.mime.image import MIMEImage
from email.utils import formataddr, parseaddr
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from hub.cleaning import clean_text
from hub.mail import message_id
from insights.charts import trend_chart
from insights.models import ReportSubscription
from insights.periods import ReportPeriod, period_containing
from insights.selectors import ThemeSummary, Window, themes_for
from insights.services.reports import RecentComment, Report, TrendPoint, report_build
from insights.stats import BANDS, Change, Score, change_between
from surveys.models import Survey

TREND_PERIODS = 12
COMMENTS_PER_BAND = 3
COMMENT_CHARS = 300
THEMES_SHOWN = 5
CHART_CID = "trend-chart"
EMPTY = Score(promoters=0, passives=0, detractors=0)


@dataclass(frozen=True)
class ReportDigest:
    """What one report email shows; the same for every subscriber of a survey, period and time zone."""

    survey: Survey | None
    period: ReportPeriod
    report: Report
    previous: Score
    change: Change | None
    trend: list[TrendPoint]
    themes: list[tuple[str, ThemeSummary]]  # (survey name, theme), most talked about first
    chart: bytes  # the trend as PNG

    @property
    def title(self) -> str:
        return self.survey.name if self.survey is not None else "All surveys"


ReportCache = dict[tuple[int | None, str, str], ReportDigest]


def _trend_span(period: ReportPeriod) -> Window:
    first = period
    for _ in range(TREND_PERIODS - 1):
        first = first.previous()
    return Window(start=first.start, end=period.end)


def _themes(survey: Survey | None, period: ReportPeriod) -> list[tuple[str, ThemeSummary]]:
    surveys = [survey] if survey is not None else list(Survey.objects.filter(themes__isnull=False).distinct())
    found = [
        (each.name, summary)
        for each in surveys
        for summary in themes_for(survey=each, period=period, limit=THEMES_SHOWN)
        if summary.shares.total
    ]
    found.sort(key=lambda pair: (-pair[1].shares.total, pair[1].theme_id))
    return found[:THEMES_SHOWN]


def report_digest(*, survey: Survey | None, period: ReportPeriod) -> ReportDigest:
    """The numbers, themes, comments and chart of one report email."""
    plain: dict[str, Any] = {"survey": survey, "compare": False, "breakdowns": (), "tz": period.tzinfo}
    report = report_build(period=period, comments_per_band=COMMENTS_PER_BAND, **plain)
    trend = report_build(
        period=_trend_span(period), granularity=period.unit, comments_per_band=0, **plain
    ).trend
    # The trend's buckets are the local weeks or months, each counting its people's latest answer there,
    # as a report of that period does: the period before is read from it (no bucket: nobody answered).
    before = period.previous().start
    previous = next((point.score for point in trend if point.start == before), EMPTY)
    return ReportDigest(
        survey=survey,
        period=period,
        report=report,
        previous=previous,
        change=change_between(now=report.score, before=previous),
        trend=trend,
        themes=_themes(survey, period),
        chart=trend_chart(trend, fmt="png", title=f"NPS by {period.unit}, with its 95 % margin"),
    )


def change_wording(*, change: Change | None, previous: Score, since: str) -> str:
    """The change against the period before, in words that say whether chance could explain it."""
    if change is None:
        return f"No answers in {since} to compare with." if not previous.n else "No answers to compare."
    points = abs(change.delta)
    direction = "Up" if change.delta > 0 else "Down" if change.delta < 0 else "Unchanged"
    moved = f"{direction} {points:.1f} points since {since}" if change.delta else f"Unchanged since {since}"
    margin = f"the ±{change.threshold:.1f} points chance alone explains"
    if change.significant:
        return f"{moved}: a significant change (beyond {margin})."
    return f"{moved}: not a significant change (within {margin})."


def _comment_cut(comment: RecentComment) -> dict[str, Any]:
    text = " ".join(comment.comment.split())
    if len(text) > COMMENT_CHARS:
        text = text[: COMMENT_CHARS - 1].rstrip() + "\N{HORIZONTAL ELLIPSIS}"
    return {"rating": comment.rating, "text": text, "answered_at": comment.answered_at}


def _score_line(score: Score) -> str:
    if score.nps is None or score.margin is None:
        return "no answers"
    small = ", small sample" if score.small_sample else ""
    return f"{score.nps:+.0f} ± {score.margin:.1f} (n = {score.n}{small})"


def _points(trend: Sequence[TrendPoint], period: ReportPeriod) -> list[dict[str, str]]:
    """Each trend point by its period key ("2026-W47") and score line."""
    return [
        {
            "period": period_containing(point.start, frequency=period.frequency, zone=period.zone).key,
            "score": _score_line(point.score),
        }
        for point in trend
    ]


def _share(summary: ThemeSummary, band: str) -> str:
    share, change = summary.shares.shares.get(band), summary.shares.change(band)
    if share is None:
        return "none"
    return f"{100 * share:.0f} %" + (f" ({change:+.0f} pts)" if change is not None else "")


def _theme_row(survey: str, summary: ThemeSummary) -> dict[str, Any]:
    return {
        "label": summary.label,
        "survey": survey,
        "comments": summary.shares.total,
        "detractors": _share(summary, "detractor"),
        "promoters": _share(summary, "promoter"),
    }


def report_admin_url(survey: Survey | None, period: ReportPeriod) -> str:
    """The survey's report page in the admin (the overview: hub-wide) for exactly this period."""
    path = (
        reverse("admin:insights_surveyreport_change", args=[survey.pk])
        if survey is not None
        else reverse("admin:insights_surveyreport_changelist")
    )
    query = urlencode({"since": period.start.isoformat(), "until": period.end.isoformat(), "trend": "day"})
    return f"{settings.HUB_BASE_URL}{path}?{query}"


def report_context(digest: ReportDigest) -> dict[str, Any]:
    report = digest.report
    since = digest.period.previous().label
    points = _points(digest.trend, digest.period)
    return {
        "title": digest.title,
        "period": digest.period,
        "score": report.score,
        "score_line": _score_line(report.score),
        "previous_line": _score_line(digest.previous),
        "since": since,
        "change_text": change_wording(change=digest.change, previous=digest.previous, since=since),
        "rate": report.response_rate,
        "points": points,
        "themes": [
            _theme_row(name if digest.survey is None else "", summary) for name, summary in digest.themes
        ],
        "bands": [
            {"band": band, "comments": [_comment_cut(c) for c in report.comments.get(band, [])]}
            for band in BANDS
        ],
        "admin_url": report_admin_url(digest.survey, digest.period),
        "subscriptions_url": settings.HUB_BASE_URL + reverse("admin:insights_reportsubscription_changelist"),
        "chart_cid": CHART_CID,
        # The picture's text alternative: the latest points (the text part lists them all).
        "chart_alt": f"NPS by {digest.period.unit}: "
        + "; ".join(f"{point['period']} {point['score']}" for point in points[-4:]),
    }


def report_message_id(*, subscription: ReportSubscription | None, period: ReportPeriod) -> str:
    """Derived from the subscription and period: a resend after a crash carries the same Message-ID."""
    return message_id(what=f"report-{subscription.pk if subscription else 'preview'}.{period.key}")


def report_email(
    *,
    subscription: ReportSubscription | None,
    period: ReportPeriod,
    survey: Survey | None = None,
    to: str = "",
    cache: ReportCache | None = None,
) -> EmailMultiAlternatives:
    """The report email of `subscription` for `period` (or, without one, of `survey` to `to`: a preview)."""
    if subscription is not None:
        survey = subscription.survey
        user = subscription.user
        to = formataddr((clean_text(user.get_full_name(), max_length=100), user.email))
    key = (survey.pk if survey else None, period.key, period.zone)
    digest = cache.get(key) if cache is not None else None
    if digest is None:
        digest = report_digest(survey=survey, period=period)
        if cache is not None:
            cache[key] = digest
    context = report_context(digest)
    context["subscription_label"] = (
        f"as your {subscription.frequency} subscription" if subscription is not None else "as a preview"
    )
    headline = _score_line(digest.report.score)
    subject = clean_text(f"NPS report: {digest.title}, {period.label}: {headline}", max_length=200)
    default_name, default_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string("insights/email/report.txt", context),
        from_email=formataddr((default_name or "Feedback Hub", default_address)),
        to=[to] if to else [],
        headers={
            "Message-ID": report_message_id(subscription=subscription, period=period),
            "Auto-Submitted": "auto-generated",  # RFC 3834: no out-of-office replies
        },
    )
    message.attach_alternative(render_to_string("insights/email/report.html", context), "text/html")
    image = MIMEImage(digest.chart, "png")
    image.add_header("Content-ID", f"<{CHART_CID}>")
    image.add_header("Content-Disposition", "inline", filename="nps-trend.png")
    message.attach(image)
    message.mixed_subtype = "related"  # the HTML and the picture it shows by cid: travel together
    return message
