"""The NPS report: one service for the admin's pages, the API, the report emails and the exports.

`report_build` aggregates in SQL (counts per rating, grouped by a bucket, a window or a dimension);
Python only turns those few rows into scores (insights/stats.py). docs/benchmarks.md ("NPS report")
has the measurements behind the queries' shape. By default n counts people: each person's latest
answer in the period (matching the filters); `count="answers"` counts every answer. An erased
person's answers have no person any more: each counts as one person.

A report reads who answered last from the answers themselves: each answer keeps the time of its
person's next answer to the survey (`Response.superseded_at`, surveys/services/responses.py) and to
any survey (`hub_superseded_at`, for the hub-wide report, which counts a person once across surveys),
so a person's latest answer in [start, end) is the one in it whose next answer came at `end` or later,
a plain filter. Filters on an answer's own values (language, channel, tag ratings) can pass over a
person's latest answer: those compute each person's latest answer instead (DISTINCT ON, a window).
"""

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo

from django.core.exceptions import EmptyResultSet
from django.db import connections, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Expression,
    F,
    FloatField,
    Q,
    QuerySet,
    Value,
    When,
    Window,
)
from django.db.models.expressions import RawSQL
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, Lag, RowNumber
from django.db.models.lookups import Regex
from django.utils import timezone

from customers.models import Membership
from insights.dimensions import (
    Dimension,
    dimension_parse,
    expression,
    filters_about_people,
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
from surveys.selectors import responses_in_band

Counting = Literal["people", "answers"]
Granularity = Literal["day", "week", "month"]
GRANULARITIES: tuple[Granularity, ...] = ("day", "week", "month")
# Who may read reports, their exports and report emails: staff who may see surveys and their answers.
READ_ANSWERS = ("surveys.view_survey", "surveys.view_response")
ROLLING_WINDOWS = (30, 90)
MAX_ROLLING_POINTS = 60
MAX_CELLS = 100
DEFAULT_BREAKDOWNS = ("source", "language", "channel")
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
    tz: tzinfo = UTC  # of the trend's days, weeks and months


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


NextAnswer = Literal["superseded_at", "hub_superseded_at"]


def _next_answer_column(*, per_survey: bool, filters: Mapping[str, str]) -> NextAnswer | None:
    """The answers' column of their person's next answer that finds each person's latest answer
    (`_latest_before`): to the same survey (a survey's report, each survey's score) or to any (the
    hub-wide report); None with a filter on the answer's own values, which may pass over a person's
    latest answer (a window finds it instead)."""
    if not filters_about_people(filters):
        return None
    return "superseded_at" if per_survey else "hub_superseded_at"


def _latest_before(end: datetime, next_answer: NextAnswer | None) -> Q | None:
    """Among answers before `end`, each person's latest: no next answer before `end` (and each of an
    erased person's answers); None without a column to read it from."""
    if next_answer is None:
        return None
    return Q(person__isnull=True) | Q(**{f"{next_answer}__isnull": True}) | Q(**{f"{next_answer}__gte": end})


def _counted(
    answers: QuerySet[Response], count: Counting, *, latest: Q | None, per_survey: bool = False
) -> QuerySet[Response]:
    """The answers that count: all of them, or each person's latest (in each survey with `per_survey`):
    by the `latest` filter (`_latest_before`) when given, else by a window over each person's answers."""
    if count == "answers":
        return answers
    if latest is not None:
        return answers.filter(latest)
    person = Coalesce(F("person_id"), -F("id"))
    ranked = answers.annotate(
        latest=Window(
            RowNumber(),
            partition_by=[F("survey_id"), person] if per_survey else [person],
            order_by=[F("answered_at").desc(), F("id").desc()],
        )
    ).filter(latest=1)
    return Response.objects.filter(pk__in=ranked.values("pk"))


def _scores_by(answers: QuerySet[Response], group: object) -> dict[object, Score]:
    """{group value: Score} in one query."""
    counts: dict[object, dict[int, int]] = {}
    rows = (
        answers.annotate(group=group).values_list("group", "rating").annotate(number=Count("pk")).order_by()
    )
    for value, rating, number in rows:
        counts.setdefault(value, {})[rating] = number
    return {value: score_from_distribution(distribution) for value, distribution in counts.items()}


def _bucket_end(start: datetime, granularity: Granularity) -> datetime:
    """The start of the next day, week or month, by the wall clock of `start`'s time zone (the last
    moment a datetime holds when that is past the year 9999)."""
    wall = start.replace(tzinfo=None)
    try:
        if granularity == "month":
            following = (wall.replace(day=1) + timedelta(days=32)).replace(day=1)
        else:
            following = wall + timedelta(days=1 if granularity == "day" else 7)
    except OverflowError:
        return datetime.max.replace(tzinfo=UTC)
    return following.replace(tzinfo=start.tzinfo)


# --- One pass over the answers for the trend and the rolling windows ---------------------------------
#
# A person's latest answer in a span is the answer with no newer answer of theirs in that span. Over the
# answers in [first, end) sorted per person newest first, `newer` is the time of the person's next newer
# answer (LAG; None for their latest, and for an erased person's answers, which each count as one
# person). An answer at t with its next newer answer at u is then the latest of its person
#   - in its trend bucket when t is in the period and u is None or in a later bucket,
#   - in the rolling window [e - days, e) when e - days <= t < e <= u (or u is None).
# So one scan counts the trend and every rolling window, grouped by numbers SQL computes with
# comparisons only (`_rank`: how many of a sorted list of moments are <= t, as a tree of CASEs), which
# every database does the same way; Python adds up the few groups. Counting every answer is the same
# with u always None. The period and the period before are one person's latest answer each: DISTINCT ON.


def _rank(column: str, moments: Sequence[Any]) -> tuple[str, list[Any]]:
    """SQL for how many of `moments` (ascending, adapted for the database) are <= `column`, in
    log2(len) comparisons; for a NULL column, len(moments)."""

    def node(low: int, high: int) -> tuple[str, list[Any]]:
        if low == high:
            return str(low), []
        middle = (low + high + 1) // 2
        below, below_params = node(low, middle - 1)
        above, above_params = node(middle, high)
        return (
            f"CASE WHEN {column} < %s THEN {below} ELSE {above} END",
            [moments[middle - 1], *below_params, *above_params],
        )

    return node(0, len(moments))


def _bucket_starts(period: Period, granularity: Granularity, tz: tzinfo) -> list[datetime]:
    """The starts of the days, weeks (Monday) or months of `tz`'s wall clock that `period` touches, as
    `Trunc(..., tzinfo=tz)` gives them (the wall time made aware in `tz`)."""
    wall = period.start.astimezone(tz).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    if granularity == "week":
        wall -= timedelta(days=wall.weekday())
    elif granularity == "month":
        wall = wall.replace(day=1)
    starts = [wall.replace(tzinfo=tz)]
    while (following := _bucket_end(starts[-1], granularity)) < period.end:
        starts.append(following)
    return starts


def _rolling_ends(period: Period) -> list[datetime]:
    """The ends of the rolling windows, latest first: a point per day (per week past two months, and
    coarser past 60 points), at most MAX_ROLLING_POINTS, back to the period's start."""
    length = period.end - period.start
    step = timedelta(days=1) if length <= timedelta(days=62) else timedelta(days=7)
    while length / step > MAX_ROLLING_POINTS:
        step *= 2
    ends: list[datetime] = []
    end = period.end
    while end > period.start and len(ends) < MAX_ROLLING_POINTS:
        ends.append(end)
        end -= step
    return ends


@dataclass
class _Counts:
    """What the pass counted: per rating 0..10."""

    buckets: dict[int, list[int]] = field(default_factory=dict)  # bucket index: counts
    rolling: list[list[int]] = field(default_factory=list)  # window index (latest first): counts


def _count_pass(
    answers_of: Callable[[Span], QuerySet[Response]],
    *,
    count: Counting,
    period: Span,
    buckets: Sequence[datetime],
    rolling_ends: Sequence[datetime],
    rolling_days: int | None,
    next_answer: NextAnswer | None,
) -> _Counts:
    """The trend's and the rolling windows' counts in one query; with `next_answer`
    (`_next_answer_column`), each answer's next answer is that column, not found by a window over the
    person's answers."""
    windows = [(end - timedelta(days=rolling_days or 0), end) for end in rolling_ends]
    answers = answers_of(Span(start=min([period.start] + [start for start, _ in windows]), end=period.end))
    connection = connections[answers.db]
    adapt = connection.ops.adapt_datetimefield_value
    newer: Window | Case | Cast
    if count == "people" and next_answer is not None:
        # A next answer after the pass's end is none within it.
        newer = Case(
            When(**{f"{next_answer}__lt": period.end}, then=F(next_answer)), output_field=DateTimeField()
        )
    elif count == "people":
        newer = Window(
            Lag("answered_at"),
            partition_by=[F("person_id")],
            order_by=[F("answered_at").desc(), F("id").desc()],
        )
    else:
        newer = Cast(Value(None), DateTimeField())
    inner, inner_params = (
        answers.annotate(newer=newer).values_list("rating", "answered_at", "person_id", "newer").query
    ).sql_with_params()
    # Each tree once per answer, in a subquery PostgreSQL may not pull up (OFFSET 0), and only for the
    # answers it concerns.
    ranks: list[str] = []
    params: list[Any] = []
    start = adapt(period.start)
    if buckets:
        moments = [adapt(moment) for moment in buckets]
        for column, guard in (("t", "t >= %s"), ("u", "t >= %s AND u IS NOT NULL")):
            tree, tree_params = _rank(column, moments)
            ranks.append(f"CASE WHEN {guard} THEN {tree} END AS bucket_{column}")
            params += [start, *tree_params]
    if windows:
        # Window k is [ends[k] - days, ends[k]); ends descend with k. An answer counts in windows
        # k = low..high: ends[k] > t (k <= high), ends[k] - days <= t and ends[k] <= u (k >= low).
        ends = [adapt(end) for _, end in reversed(windows)]
        starts = [adapt(begin) for begin, _ in reversed(windows)]
        for name, column, moments in (
            ("ends_t", "t", ends),
            ("starts_t", "t", starts),
            ("ends_u", "u", ends),
        ):
            tree, tree_params = _rank(column, moments)
            ranks.append(f"{tree} AS {name}")
            params += tree_params
    if not ranks:
        return _Counts()
    total = len(windows)
    low_u = f"CASE WHEN u IS NULL THEN 0 ELSE {total} - ends_u END"
    low_t = f"{total} - starts_t"
    keys = [
        "CASE WHEN bucket_t IS NOT NULL AND (u IS NULL OR bucket_u > bucket_t) THEN bucket_t END"
        if buckets
        else "NULL",
        f"{total} - 1 - ends_t" if windows else "NULL",
        f"CASE WHEN {low_u} > {low_t} THEN {low_u} ELSE {low_t} END" if windows else "NULL",
    ]
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    sql = (
        "SELECT bucket, high, low, rating, COUNT(*) FROM ("  # noqa: S608 (no input in the SQL text)
        f"SELECT {keys[0]} AS bucket, {keys[1]} AS high, {keys[2]} AS low, rating FROM ("
        f"SELECT rating, t, u, {', '.join(ranks)} FROM ("
        "SELECT rating, answered_at AS t, CASE WHEN person_id IS NULL THEN NULL ELSE newer END AS u"
        f" FROM ({inner}) AS answers) AS moments{fence}) AS ranked) AS keyed"
        " GROUP BY bucket, high, low, rating"
    )
    counts = _Counts(rolling=[[0] * 11 for _ in windows])
    changes = [[0] * 11 for _ in range(len(windows) + 1)]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *inner_params])
        for bucket, high, low, rating, number in cursor.fetchall():
            rating = min(max(rating, 0), 10)
            if bucket is not None:
                counts.buckets.setdefault(bucket - 1, [0] * 11)[rating] += number
            if high is not None and low <= high:  # windows low..high, as differences
                changes[low][rating] += number
                changes[high + 1][rating] -= number
    running = [0] * 11
    for window, change in enumerate(changes[: len(windows)]):
        running = [so_far + step for so_far, step in zip(running, change, strict=True)]
        counts.rolling[window] = running
    return counts


def _distribution(answers: QuerySet[Response], count: Counting, *, latest: Q | None) -> list[int]:
    """Answers (or people) per rating 0..10 among `answers`; each person's latest answer by the
    `latest` filter (`_latest_before`) when given, else on PostgreSQL by DISTINCT ON (`_latest`)."""
    connection = connections[answers.db]
    if count == "people" and latest is None and connection.vendor == "postgresql":
        try:
            sql, params = _latest(answers, "rating")
        except EmptyResultSet:  # e.g. the answers of no survey: there is no SQL to run
            return [0] * 11
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT rating, COUNT(*) FROM ({sql}) AS latest GROUP BY rating", params)  # noqa: S608
            rows = cursor.fetchall()
    else:
        counted = _counted(answers, count, latest=latest)
        rows = list(counted.values_list("rating").annotate(number=Count("pk")).order_by())
    distribution = [0] * 11
    for rating, number in rows:
        distribution[min(max(rating, 0), 10)] += number
    return distribution


# --- The period's counted answers with what the breakdowns and drivers read -------------------------


def _latest(answers: QuerySet[Response], *columns: str) -> tuple[str, list[Any]]:
    """PostgreSQL: `columns` of each person's latest answer among `answers` (DISTINCT ON, which reads
    the index response_survey_person in order, without a sort), and of every answer whose person was
    erased."""
    needed = [name for name in ("person_id", "answered_at", "id") if name not in columns]
    select, params = answers.values_list(*columns, *needed).query.sql_with_params()
    names = ", ".join(columns)
    sql = (
        f"(SELECT DISTINCT ON (person_id) {names} FROM ({select}) AS answers"  # noqa: S608
        " WHERE person_id IS NOT NULL ORDER BY person_id, answered_at DESC, id DESC)"
        f" UNION ALL SELECT {names} FROM ({select}) AS answers WHERE person_id IS NULL"
    )
    return sql, [*params, *params]


@contextmanager
def _counted_table(
    answers: QuerySet[Response], count: Counting, *, columns: Mapping[str, Expression | F], latest: Q | None
) -> Iterator[str]:
    """A temporary table of the answers that count in the period (id, person_id, rating and `columns`,
    each an expression on the answer), for the score, the drivers and the breakdowns to read without
    joins; each person's latest answer by the `latest` filter when given (`_latest_before`). Dropped at
    the end (or with the transaction's savepoint on an error)."""
    connection = connections[answers.db]
    table = f"report_counted_{uuid.uuid4().hex}"
    temporary = []
    with transaction.atomic(using=answers.db), connection.cursor() as cursor:
        if count == "people" and latest is None and connection.vendor == "postgresql":
            ids = f"{table}_ids"
            sql, ids_params = _latest(answers, "id")
            cursor.execute(f"CREATE TEMPORARY TABLE {ids} ON COMMIT DROP AS {sql}", ids_params)
            cursor.execute(f"ANALYZE {ids}")
            temporary.append(ids)
            # our own name, no input in it
            counted = answers.filter(pk__in=RawSQL(f"SELECT id FROM {ids}", ()))  # noqa: S608, S611
        else:
            counted = _counted(answers, count, latest=latest)
        rows = counted.annotate(**columns).values_list("id", "person_id", "rating", *columns)
        select, params = rows.query.sql_with_params()
        cursor.execute(f"CREATE TEMPORARY TABLE {table} AS {select}", params)
        temporary.append(table)
        yield table
        for name in reversed(temporary):
            cursor.execute(f"DROP TABLE {name}")


def _tag_number(tag: str) -> Case:
    """The answer's rating of `tag` as a number; None when it is not one (a tag rating is stored as a
    number, surveys/services/responses.py, but a value typed into the admin's JSON box must not break
    the report)."""
    value = KeyTextTransform(tag, "tag_ratings")
    return Case(
        When(Regex(value, r"^[0-9]+(\.[0-9]+)?$"), then=Cast(value, FloatField())),
        default=Value(None, output_field=FloatField()),
    )


def _summary(cursor: CursorWrapper, table: str, tags: Sequence[str]) -> tuple[list[int], list[Driver]]:
    """The distribution and each tag's average and correlation with the score, from the counted table:
    per rating, how many answers rated each tag and the sums of those ratings and their squares."""
    sums = ", ".join(
        f"COUNT(x{index}), SUM(x{index}), SUM(x{index} * x{index})" for index in range(len(tags))
    )
    cursor.execute(f"SELECT rating, COUNT(*){', ' if tags else ''}{sums} FROM {table} GROUP BY rating")  # noqa: S608
    distribution = [0] * 11
    per_tag = [dict.fromkeys(("n", "x", "xx", "y", "yy", "xy"), 0.0) for _ in tags]
    for rating, number, *tag_sums in cursor.fetchall():
        distribution[min(max(rating, 0), 10)] += number
        for index, sum_of in enumerate(per_tag):
            n, x, xx = tag_sums[3 * index : 3 * index + 3]
            sum_of["n"] += n
            sum_of["x"] += x or 0.0
            sum_of["xx"] += xx or 0.0
            sum_of["y"] += rating * n
            sum_of["yy"] += rating * rating * n
            sum_of["xy"] += rating * (x or 0.0)
    drivers = [
        Driver(
            tag=tag,
            answers=int(sum_of["n"]),
            average=sum_of["x"] / sum_of["n"] if sum_of["n"] else None,
            correlation=correlation(
                n=int(sum_of["n"]),
                sum_x=sum_of["x"],
                sum_y=sum_of["y"],
                sum_xx=sum_of["xx"],
                sum_yy=sum_of["yy"],
                sum_xy=sum_of["xy"],
            ),
        )
        for tag, sum_of in zip(tags, per_tag, strict=True)
    ]
    return distribution, drivers


def _breakdown_counts(
    cursor: CursorWrapper, table: str, dimensions: Sequence[Dimension]
) -> list[dict[str | None, dict[int, int]]]:
    """Per dimension {value: {rating: people}} in one query: a column of the counted table each, and
    the accounts (a person in two accounts counts in both) through their memberships."""
    if not dimensions:
        return []
    parts = []
    for index, dimension in enumerate(dimensions):
        if dimension.name == "account":
            parts.append(
                f"SELECT {index}, CAST(memberships.account_id AS TEXT), rating, COUNT(*) FROM {table}"  # noqa: S608
                f" LEFT JOIN {Membership._meta.db_table} AS memberships"
                f" ON memberships.person_id = {table}.person_id"
                f" GROUP BY memberships.account_id, rating"
            )
        else:
            parts.append(f"SELECT {index}, d{index}, rating, COUNT(*) FROM {table} GROUP BY d{index}, rating")  # noqa: S608
    cursor.execute(" UNION ALL ".join(parts))
    counts: list[dict[str | None, dict[int, int]]] = [{} for _ in dimensions]
    for index, value, rating, number in cursor.fetchall():
        counts[index].setdefault(None if value is None else str(value), {})[rating] = number
    return counts


def _breakdown(counts: Mapping[str | None, Mapping[int, int]], *, dimension: Dimension) -> Breakdown:
    scores = {value: score_from_distribution(ratings) for value, ratings in counts.items()}
    shown = [(value, score) for value, score in scores.items() if not cell_hidden(score.n)]
    hidden = [score.n for score in scores.values() if cell_hidden(score.n)]
    shown.sort(key=lambda item: (-item[1].n, str(item[0])))
    shown = shown[:MAX_CELLS]
    names = labels(dimension, [value for value, _ in shown])
    return Breakdown(
        dimension=dimension.name,
        title=dimension.title,
        cells=[Cell(value=value, label=names[value], score=score) for value, score in shown],
        hidden_cells=len(hidden),
        hidden_people=sum(hidden),
    )


def _response_rate(
    *, survey: Survey | None, period: Period, filters: Mapping[str, str]
) -> ResponseRate | None:
    invitations = Invitation.objects.filter(sent_at__gte=period.start, sent_at__lt=period.end)
    if survey is not None:
        invitations = invitations.filter(survey=survey)
    filtered = filters_invitations(invitations, filters)
    if filtered is None:
        return None
    # Answered: marked so in the answer's own transaction (surveys/services/responses.py), read from the
    # invitations alone rather than joined with every answer of the table.
    sums = filtered.aggregate(
        delivered=Count("pk"), answered=Count("pk", filter=Q(status=Invitation.Status.RESPONDED))
    )
    return ResponseRate(delivered=sums["delivered"], answered=sums["answered"])


def _comments(answers: QuerySet[Response], per_band: int) -> dict[str, list[RecentComment]]:
    recent: dict[str, list[RecentComment]] = {}
    for band in BANDS:
        rows = (
            responses_in_band(answers, band=band)
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
    breakdowns: Sequence[str] = DEFAULT_BREAKDOWNS,
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
    granularity = granularity or granularity_for(span)
    buckets = _bucket_starts(span, granularity, tz)
    ends = _rolling_ends(span) if rolling_days else []

    def answers_of(window: Span) -> QuerySet[Response]:
        return answers_in(survey=survey, period=window, filters=filters)

    next_answer = _next_answer_column(per_survey=survey is not None, filters=filters)

    counts = _count_pass(
        answers_of,
        count=count,
        period=span,
        buckets=buckets,
        rolling_ends=ends,
        rolling_days=rolling_days,
        next_answer=next_answer,
    )
    tags = survey_tags(survey)
    columns: dict[str, Expression | F] = {
        f"d{index}": expression(dimension)
        for index, dimension in enumerate(dimensions)
        if dimension.name != "account"
    }
    columns |= {f"x{index}": _tag_number(tag) for index, tag in enumerate(tags)}
    answers = answers_of(span)
    with (
        _counted_table(
            answers, count, columns=columns, latest=_latest_before(span.end, next_answer)
        ) as table,
        connections[answers.db].cursor() as cursor,
    ):
        distribution, drivers = _summary(cursor, table, tags)
        cells = [
            _breakdown(counted, dimension=dimension)
            for counted, dimension in zip(
                _breakdown_counts(cursor, table, dimensions), dimensions, strict=True
            )
        ]
    score = score_from_distribution(dict(enumerate(distribution)))
    previous = change = None
    if compare:
        before = span.before()
        previous = score_of(survey=survey, period=before, count=count, filters=filters)
        change = change_between(now=score, before=previous)
    trend = [
        TrendPoint(
            start=max(buckets[index], span.start),
            end=min(_bucket_end(buckets[index], granularity), span.end),
            score=score_from_distribution(dict(enumerate(counted))),
        )
        for index, counted in sorted(counts.buckets.items())
    ]
    rolling = [
        TrendPoint(
            start=end - timedelta(days=rolling_days or 0),
            end=end,
            score=score_from_distribution(dict(enumerate(counted))),
        )
        for end, counted in reversed(list(zip(ends, counts.rolling, strict=True)))
    ]
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
        trend=trend,
        rolling_days=rolling_days,
        rolling=rolling,
        breakdowns=cells,
        drivers=drivers,
        # Every recent comment, not only each person's latest answer's: one query less per band.
        comments=_comments(answers, comments_per_band) if comments_per_band else {},
        tz=tz,
    )


def score_of(
    *,
    survey: Survey | None = None,
    period: Period,
    count: Counting = "people",
    filters: Mapping[str, str] | None = None,
    survey_ids: Sequence[int] | None = None,
) -> Score:
    """The score `report_build` shows for the same arguments, alone (one query): a report's previous
    period, the admin index's NPS. Hub-wide, `survey_ids` (every survey's, when the caller has them)
    lets PostgreSQL read each survey's range of an index instead of every answer (30 days of 1M
    answers: 54 against 114 ms)."""
    filters = dict(filters or {})
    answers = answers_in(survey=survey, period=period, filters=filters)
    if survey is None and survey_ids is not None:
        answers = answers.filter(survey__in=survey_ids)
    next_answer = _next_answer_column(per_survey=survey is not None, filters=filters)
    latest = _latest_before(period.end, next_answer)
    return score_from_distribution(dict(enumerate(_distribution(answers, count, latest=latest))))


@dataclass(frozen=True)
class SurveyScore:
    survey: Survey
    score: Score


def surveys_scores(
    *, period: Period, count: Counting = "people", filters: Mapping[str, str] | None = None
) -> list[SurveyScore]:
    """Every survey's score in `period` (one query), most answers first, surveys without answers last;
    each the score of that survey's own report (a person counts in every survey they answered)."""
    filters = dict(filters or {})
    answers = answers_in(survey=None, period=period, filters=filters)
    latest = _latest_before(period.end, _next_answer_column(per_survey=True, filters=filters))
    scores = _scores_by(_counted(answers, count, latest=latest, per_survey=True), F("survey_id"))
    surveys = Survey.objects.order_by("name")
    listed = [SurveyScore(survey=survey, score=scores.get(survey.pk, Score(0, 0, 0))) for survey in surveys]
    return sorted(listed, key=lambda item: -item.score.n)
