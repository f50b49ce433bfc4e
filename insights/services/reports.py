"""The NPS report: one service for the admin's pages, the API, the report emails and the exports.

`report_build` aggregates in SQL (counts per rating, grouped by a bucket or a dimension); Python only
turns those few rows into scores (insights/stats.py). By default n counts people: each person's latest
answer in the period (matching the filters); `count="answers"` counts every answer. An erased
person's answers have no person any more: each counts as one person.
"""

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo

from django.db import connections, transaction
from django.db.models import Count, F, FloatField, Q, QuerySet, Sum, Window
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, RowNumber, Trunc
from django.utils import timezone

from insights.dimensions import (
    Dimension,
    dimension_parse,
    expression,
    filters_apply,
    filters_invitations,
    labels,
)
from insights.selectors import Period
from insights.selectors import Window as Span
from insights.stats import (
    BANDS,
    Change,
    Score,
    cell_hidden,
    change_between,
    correlation,
    score_from_distribution,
)
from surveys.models import Invitation, Response, Survey

Counting = Literal["people", "answers"]
Granularity = Literal["day", "week", "month"]
GRANULARITIES: tuple[Granularity, ...] = ("day", "week", "month")
# Who may read reports, their exports and report emails: staff who may see surveys and their answers.
READ_ANSWERS = ("surveys.view_survey", "surveys.view_response")
ROLLING_WINDOWS = (30, 90)
MAX_ROLLING_POINTS = 60
MAX_CELLS = 100
RECENT_COMMENTS = 5
UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class TrendPoint:
    """The score of answers in [start, end): one day, week or month, or a rolling window ending at `end`."""

    start: datetime
    end: datetime
    score: Score


@dataclass(frozen=True)
class Cell:
    value: str | None
    label: str
    score: Score


@dataclass(frozen=True)
class Breakdown:
    """One dimension's cells, largest first; cells under 5 people are left out and counted."""

    dimension: str
    title: str
    cells: list[Cell]
    hidden_cells: int
    hidden_people: int


@dataclass(frozen=True)
class Driver:
    """A tag's average rating and its correlation (Pearson's r) with the 0-10 score."""

    tag: str
    answers: int
    average: float | None
    correlation: float | None


@dataclass(frozen=True)
class ResponseRate:
    """Invitations delivered in the period and how many were answered; `rate` None when none were
    delivered or when a filter cannot apply to invitations (a tag rating)."""

    delivered: int
    answered: int

    @property
    def rate(self) -> float | None:
        return self.answered / self.delivered if self.delivered else None


@dataclass(frozen=True)
class RecentComment:
    response_id: int
    rating: int
    comment: str
    answered_at: datetime


@dataclass(frozen=True)
class Report:
    survey: Survey | None  # None: every survey (the hub-wide overview)
    period: Span
    count: Counting
    filters: dict[str, str]
    score: Score
    distribution: list[int]  # answers (or people) per rating 0..10
    response_rate: ResponseRate | None
    previous_period: Span
    previous: Score | None
    change: Change | None
    granularity: Granularity
    trend: list[TrendPoint]
    rolling_days: int | None
    rolling: list[TrendPoint]
    breakdowns: list[Breakdown]
    drivers: list[Driver]
    comments: dict[str, list[RecentComment]] = field(default_factory=dict)  # by band, newest first


def report_period(*, days: int = 90, end: datetime | None = None) -> Span:
    """The `days` up to `end` (now)."""
    end = end or timezone.now()
    return Span(start=end - timedelta(days=days), end=end)


def granularity_for(period: Period) -> Granularity:
    """Days up to a month, weeks up to half a year, months beyond."""
    days = (period.end - period.start).days
    return "day" if days <= 31 else "week" if days <= 183 else "month"


def answers_in(*, survey: Survey | None, period: Period, filters: Mapping[str, str]) -> QuerySet[Response]:
    """Every answer of the survey (every survey) given in [start, end) and matching the filters."""
    answers = Response.objects.filter(answered_at__gte=period.start, answered_at__lt=period.end)
    if survey is not None:
        answers = answers.filter(survey=survey)
    return filters_apply(answers, filters)


def _counted(
    answers: QuerySet[Response], count: Counting, *, per: Sequence[Trunc] = ()
) -> QuerySet[Response]:
    """The answers that count: all of them, or each person's latest (per bucket, when `per` names one)."""
    if count == "answers":
        return answers
    latest = answers.annotate(
        latest=Window(
            RowNumber(),
            partition_by=[Coalesce(F("person_id"), -F("id")), *per],
            order_by=[F("answered_at").desc(), F("id").desc()],
        )
    ).filter(latest=1)
    return Response.objects.filter(pk__in=latest.values("pk"))


@contextmanager
def _counted_once(answers: QuerySet[Response], count: Counting) -> Iterator[QuerySet[Response]]:
    """The counted answers for a report's several queries (score, distribution, drivers, breakdowns),
    the per-person step done once: on PostgreSQL their ids go into a temporary table, dropped at the
    end (or with the transaction's savepoint on an error); elsewhere each query repeats the step."""
    counted = _counted(answers, count)
    connection = connections[answers.db]
    if count == "answers" or connection.vendor != "postgresql":
        yield counted
        return
    table = f"report_counted_{uuid.uuid4().hex}"
    select, params = counted.values("pk").query.sql_with_params()
    with transaction.atomic(using=answers.db):
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMPORARY TABLE {table} (id bigint PRIMARY KEY) ON COMMIT DROP")
            cursor.execute(f"INSERT INTO {table} {select}", params)
            cursor.execute(f"ANALYZE {table}")
        ids = RawSQL(f"SELECT id FROM {table}", ())  # noqa: S608, S611 (our own name, no input in it)
        yield Response.objects.using(answers.db).filter(pk__in=ids)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {table}")


def _score(answers: QuerySet[Response]) -> tuple[Score, list[int]]:
    distribution = [0] * 11
    for rating, number in answers.values_list("rating").annotate(number=Count("pk")).order_by():
        distribution[min(max(rating, 0), 10)] += number
    return score_from_distribution(dict(enumerate(distribution))), distribution


def _scores_by(answers: QuerySet[Response], group: object) -> dict[object, Score]:
    """{group value: Score} in one query."""
    counts: dict[object, dict[int, int]] = {}
    rows = (
        answers.annotate(group=group).values_list("group", "rating").annotate(number=Count("pk")).order_by()
    )
    for value, rating, number in rows:
        counts.setdefault(value, {})[rating] = number
    return {value: score_from_distribution(distribution) for value, distribution in counts.items()}


def _trend(
    answers: QuerySet[Response], *, count: Counting, period: Period, granularity: Granularity, tz: tzinfo
) -> list[TrendPoint]:
    bucket = Trunc("answered_at", granularity, tzinfo=tz)
    scores = _scores_by(_counted(answers, count, per=[bucket]), bucket)
    points = []
    for start in sorted(scores, key=lambda moment: moment):  # type: ignore[arg-type, return-value]
        assert isinstance(start, datetime)
        end = _bucket_end(start, granularity)
        points.append(
            TrendPoint(start=max(start, period.start), end=min(end, period.end), score=scores[start])
        )
    return points


def _bucket_end(start: datetime, granularity: Granularity) -> datetime:
    """The start of the next day, week or month, by the wall clock of `start`'s time zone."""
    wall = start.replace(tzinfo=None)
    if granularity == "month":
        following = (wall.replace(day=1) + timedelta(days=32)).replace(day=1)
    else:
        following = wall + timedelta(days=1 if granularity == "day" else 7)
    return following.replace(tzinfo=start.tzinfo)


def _rolling(
    *, survey: Survey | None, filters: Mapping[str, str], count: Counting, period: Period, days: int
) -> list[TrendPoint]:
    """A point per day (per week past two months), each the score of the `days` up to it."""
    length = period.end - period.start
    step = timedelta(days=1) if length <= timedelta(days=62) else timedelta(days=7)
    while length / step > MAX_ROLLING_POINTS:
        step *= 2
    points: list[TrendPoint] = []
    end = period.end
    while end > period.start and len(points) < MAX_ROLLING_POINTS:
        window = Span(start=end - timedelta(days=days), end=end)
        score, _ = _score(_counted(answers_in(survey=survey, period=window, filters=filters), count))
        points.append(TrendPoint(start=window.start, end=window.end, score=score))
        end -= step
    return points[::-1]


def _breakdown(answers: QuerySet[Response], *, dimension: Dimension) -> Breakdown:
    scores = _scores_by(answers, expression(dimension))
    shown = [(value, score) for value, score in scores.items() if not cell_hidden(score.n)]
    hidden = [score.n for score in scores.values() if cell_hidden(score.n)]
    shown.sort(key=lambda item: (-item[1].n, str(item[0])))
    shown = shown[:MAX_CELLS]
    names = labels(dimension, [None if value is None else str(value) for value, _ in shown])
    cells = [
        Cell(
            value=None if value is None else str(value),
            label=names[None if value is None else str(value)],
            score=score,
        )
        for value, score in shown
    ]
    return Breakdown(
        dimension=dimension.name,
        title=dimension.title,
        cells=cells,
        hidden_cells=len(hidden),
        hidden_people=sum(hidden),
    )


def _summary(answers: QuerySet[Response], tags: Sequence[str]) -> tuple[Score, list[int], list[Driver]]:
    """The score, the distribution and each tag's average and correlation with the score, from counts
    and sums in one query (each query over counted people repeats the per-person step)."""
    aggregates: dict[str, Count | Sum] = {
        f"r{rating}": Count("pk", filter=Q(rating=rating)) for rating in range(11)
    }
    y = Cast("rating", FloatField())
    for index in range(len(tags)):
        # Only numbers: a tag rating is stored as one (surveys/services/responses.py), but a value typed
        # into the admin's JSON box must not break the report.
        number = Q(**{f"tag_{index}__regex": r"^[0-9]+(\.[0-9]+)?$"})
        x = Cast(f"tag_{index}", FloatField())
        aggregates |= {
            f"n{index}": Count("pk", filter=number),
            f"x{index}": Sum(x, filter=number),
            f"xx{index}": Sum(x * x, filter=number),
            f"y{index}": Sum(y, filter=number),
            f"yy{index}": Sum(y * y, filter=number),
            f"xy{index}": Sum(x * y, filter=number),
        }
    annotated = answers.annotate(
        **{f"tag_{index}": KeyTextTransform(tag, "tag_ratings") for index, tag in enumerate(tags)}
    )
    sums = annotated.aggregate(**aggregates)
    distribution = [sums[f"r{rating}"] or 0 for rating in range(11)]
    score = score_from_distribution(dict(enumerate(distribution)))
    drivers = []
    for index, tag in enumerate(tags):
        n = sums[f"n{index}"] or 0
        drivers.append(
            Driver(
                tag=tag,
                answers=n,
                average=(sums[f"x{index}"] / n) if n else None,
                correlation=correlation(
                    n=n,
                    sum_x=sums[f"x{index}"] or 0.0,
                    sum_y=sums[f"y{index}"] or 0.0,
                    sum_xx=sums[f"xx{index}"] or 0.0,
                    sum_yy=sums[f"yy{index}"] or 0.0,
                    sum_xy=sums[f"xy{index}"] or 0.0,
                ),
            )
        )
    return score, distribution, drivers


def _response_rate(
    *, survey: Survey | None, period: Period, filters: Mapping[str, str]
) -> ResponseRate | None:
    invitations = Invitation.objects.filter(sent_at__gte=period.start, sent_at__lt=period.end)
    if survey is not None:
        invitations = invitations.filter(survey=survey)
    filtered = filters_invitations(invitations, filters)
    if filtered is None:
        return None
    sums = filtered.aggregate(delivered=Count("pk"), answered=Count("pk", filter=Q(response__isnull=False)))
    return ResponseRate(delivered=sums["delivered"], answered=sums["answered"])


def _comments(answers: QuerySet[Response], per_band: int) -> dict[str, list[RecentComment]]:
    ranges = {"promoter": (9, 10), "passive": (7, 8), "detractor": (0, 6)}
    recent: dict[str, list[RecentComment]] = {}
    for band in BANDS:
        low, high = ranges[band]
        rows = (
            answers.filter(rating__gte=low, rating__lte=high)
            .exclude(comment="")
            .order_by("-answered_at", "-pk")
            .values_list("pk", "rating", "comment", "answered_at")[:per_band]
        )
        recent[band] = [
            RecentComment(pk, rating, comment, answered_at) for pk, rating, comment, answered_at in rows
        ]
    return recent


def survey_tags(survey: Survey | None) -> list[str]:
    """The tags rated in a survey (every survey's, hub-wide), in the order staff set them."""
    surveys = [survey] if survey is not None else Survey.objects.order_by("name")
    tags: list[str] = []
    for each in surveys:
        tags += [str(tag) for tag in each.tags or [] if str(tag) not in tags]
    return tags


def report_build(
    *,
    survey: Survey | None = None,
    period: Period,
    compare: bool = True,
    filters: Mapping[str, str] | None = None,
    count: Counting = "people",
    breakdowns: Sequence[str] = ("source", "language", "channel"),
    granularity: Granularity | None = None,
    rolling_days: int | None = None,
    comments_per_band: int = RECENT_COMMENTS,
    tz: tzinfo = UTC,
) -> Report:
    """The report of `survey` (every survey when None) for answers given in `period` ([start, end)).

    `filters` {dimension: value} and `breakdowns` name dimensions as in insights/dimensions.py
    (ReportQueryInvalid for one it does not know); `compare` scores the period of the same length right
    before too, with the change's significance; `granularity` (day/week/month; by the period's length
    when None) buckets the trend in `tz`; `rolling_days` (30 or 90) adds a rolling-window trend.
    """
    if count not in ("people", "answers"):
        raise ValueError(f"count is 'people' or 'answers', not {count!r}")
    if rolling_days is not None and rolling_days not in ROLLING_WINDOWS:
        raise ValueError(f"rolling windows are {ROLLING_WINDOWS} days")
    filters = dict(filters or {})
    dimensions = [dimension_parse(name) for name in breakdowns]
    span = Span(start=period.start, end=period.end)
    answers = answers_in(survey=survey, period=span, filters=filters)
    with _counted_once(answers, count) as counted:
        score, distribution, drivers = _summary(counted, survey_tags(survey))
        cells = [_breakdown(counted, dimension=dimension) for dimension in dimensions]
    previous = change = None
    if compare:
        previous, _ = _score(
            _counted(answers_in(survey=survey, period=span.before(), filters=filters), count)
        )
        change = change_between(now=score, before=previous)
    granularity = granularity or granularity_for(span)
    return Report(
        survey=survey,
        period=span,
        count=count,
        filters=filters,
        score=score,
        distribution=distribution,
        response_rate=_response_rate(survey=survey, period=span, filters=filters),
        previous_period=span.before(),
        previous=previous,
        change=change,
        granularity=granularity,
        trend=_trend(answers, count=count, period=span, granularity=granularity, tz=tz),
        rolling_days=rolling_days,
        rolling=(
            _rolling(survey=survey, filters=filters, count=count, period=span, days=rolling_days)
            if rolling_days
            else []
        ),
        breakdowns=cells,
        drivers=drivers,
        # Every recent comment, not only each person's latest answer's: one query less per band.
        comments=_comments(answers, comments_per_band) if comments_per_band else {},
    )


@dataclass(frozen=True)
class SurveyScore:
    survey: Survey
    score: Score


def surveys_scores(
    *, period: Period, count: Counting = "people", filters: Mapping[str, str] | None = None
) -> list[SurveyScore]:
    """Every survey's score in `period` (one query), most answers first, surveys without answers last."""
    answers = answers_in(survey=None, period=period, filters=dict(filters or {}))
    scores = _scores_by(_counted(answers, count), F("survey_id"))
    surveys = Survey.objects.order_by("name")
    listed = [SurveyScore(survey=survey, score=scores.get(survey.pk, Score(0, 0, 0))) for survey in surveys]
    return sorted(listed, key=lambda item: -item.score.n)
