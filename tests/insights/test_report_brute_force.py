"""The report's numbers against a brute-force computation in Python over the same answers: each
person's latest answer per period, per trend bucket (days, weeks, months of a time zone, across its
DST changes) and per rolling window; the period before; breakdowns and drivers; people or every
answer. On whichever database the suite runs (PostgreSQL or SQLite)."""

import random
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from customers.models import Account, Membership, Person
from insights.selectors import Window
from insights.services.reports import Report, report_build
from insights.stats import Score, cell_hidden, score_from_distribution
from integrations.models import InboundEvent, Source
from surveys.models import Invitation, Response, Survey
from surveys.services.responses import answers_supersede
from tests.insights.answers import answer_make
from tests.surveys.factories import person_make, survey_make

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")  # DST from 2026-03-29 02:00 to 2026-10-25 03:00
YEAR = datetime(2026, 1, 1, tzinfo=UTC)
BREAKDOWNS = ["source", "language", "channel", "trait:plan", "account", "tag:Support"]


@dataclass(frozen=True)
class Row:
    """One answer as the brute force sees it."""

    id: int
    person: int | None
    at: datetime
    rating: int
    values: dict[str, str | None]  # dimension: value (account: see `accounts`)
    accounts: tuple[str, ...]
    support: float | None  # the Support tag as a number


def answers_written(survey: Survey, seed: int, *, also: Survey | None = None) -> list[Row]:
    """Two sources, 24 people (plans, accounts, none, one or two), ~420 answers over 2026 with ties,
    answers on midnights of Berlin and of UTC, erased people's answers (no person), trigger events;
    with `also`, each answer to one of the two surveys (the same people answering both)."""
    rng = random.Random(seed)  # noqa: S311 - fixed answers, not a secret
    sources = [Source.objects.create(name=f"Source {n}", slug=f"source-{seed}-{n}") for n in range(2)]
    accounts = [Account.objects.create(source=sources[0], group_id=f"g-{n}", name=f"A{n}") for n in range(3)]
    triggers = [
        InboundEvent.objects.create(
            source=sources[n % 2],
            message_id=f"m-{seed}-{n}",
            type="track",
            event=["Order Completed", "Ticket Solved"][n % 2],
            received_at=YEAR,
            payload={},
        )
        for n in range(3)
    ]
    people: list[Person] = []
    memberships: dict[int, tuple[str, ...]] = {}
    for n in range(24):
        traits = {"plan": rng.choice(["free", "pro", "team"])} if n % 7 else {}
        made = person_make(source=sources[n % 2], traits=traits)
        chosen = rng.sample(accounts, k=rng.choice([0, 1, 1, 2]))
        for account in chosen:
            Membership.objects.create(person=made, account=account)
        memberships[made.pk] = tuple(sorted(str(account.pk) for account in chosen))
        people.append(made)
    rows: list[Row] = []
    moments: list[datetime] = []
    for _ in range(420):
        moment = YEAR + timedelta(seconds=rng.randrange(365 * 86400))
        if rng.random() < 0.05:
            moment = datetime.combine(moment.astimezone(BERLIN).date(), time(0), tzinfo=BERLIN)
        elif rng.random() < 0.05:
            moment = moment.replace(hour=0, minute=0, second=0)
        elif moments and rng.random() < 0.05:
            moment = rng.choice(moments)  # a tie with another answer
        moments.append(moment)
        person: Person | None = None if rng.random() < 0.05 else rng.choice(people)
        rating = rng.choice([0, 2, 5, 6, 7, 8, 9, 10, 10])
        support = rng.choice([1, 2, 3, 4, 5, "n/a", None])
        trigger = rng.choice([None, *triggers])
        answer = answer_make(
            survey=survey if also is None else rng.choice([survey, also]),
            rating=rating,
            at=moment,
            person=person,
            language=rng.choice(["en", "de", "fr"]),
            tag_ratings={} if support is None else {"Support": support},
        )
        if person is None:  # answer_make makes a person: erase it the way erasure leaves an answer
            made_for = answer.person
            answer.person = None
            answer.save(update_fields=["person"])
            answers_supersede(Response.objects.filter(person=made_for))  # as moving an answer must
        if trigger:
            Invitation.objects.filter(pk=answer.invitation_id).update(trigger_event=trigger)
        rows.append(
            Row(
                id=answer.pk,
                person=None if person is None else person.pk,
                at=moment.astimezone(UTC),
                rating=rating,
                values={
                    "source": None if person is None else str(person.source_id),
                    "language": answer.language,
                    "channel": None if trigger is None else f"{trigger.source_id}:track:{trigger.event}",
                    "trait:plan": None if person is None else person.traits.get("plan"),
                    "tag:Support": None if support is None else str(support),
                },
                accounts=() if person is None else memberships[person.pk],
                support=float(support) if isinstance(support, int) else None,
            )
        )
    return rows


def counted(rows: Iterable[Row], start: datetime, end: datetime, count: str) -> list[Row]:
    """The answers in [start, end) that count: every one, or each person's latest (by time, then id)."""
    inside = [row for row in rows if start <= row.at < end]
    if count == "answers":
        return inside
    latest: dict[object, Row] = {}
    for row in inside:
        key = row.person if row.person is not None else ("erased", row.id)
        if key not in latest or (row.at, row.id) > (latest[key].at, latest[key].id):
            latest[key] = row
    return list(latest.values())


def score_of(rows: Iterable[Row]) -> Score:
    distribution: dict[int, int] = {}
    for row in rows:
        distribution[row.rating] = distribution.get(row.rating, 0) + 1
    return score_from_distribution(distribution)


def bucket_start(moment: datetime, granularity: str, tz: tzinfo) -> datetime:
    day = moment.astimezone(tz).date()
    if granularity == "week":
        day -= timedelta(days=day.weekday())
    elif granularity == "month":
        day = day.replace(day=1)
    return datetime.combine(day, time(0), tzinfo=tz)


def bucket_after(start: datetime, granularity: str) -> datetime:
    day = start.date()
    if granularity == "month":
        day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
    else:
        day += timedelta(days=1 if granularity == "day" else 7)
    return datetime.combine(day, time(0), tzinfo=start.tzinfo)


def trend_expected(
    rows: list[Row], period: Window, count: str, granularity: str, tz: tzinfo
) -> list[tuple[datetime, datetime, Score]]:
    buckets = sorted(
        {bucket_start(row.at, granularity, tz) for row in rows if period.start <= row.at < period.end}
    )
    points = []
    for start in buckets:
        end = bucket_after(start, granularity)
        inside = [row for row in rows if bucket_start(row.at, granularity, tz) == start]
        score = score_of(counted(inside, period.start, period.end, count))
        points.append((max(start, period.start), min(end, period.end), score))
    return points


def rolling_expected(
    rows: list[Row], period: Window, count: str, days: int
) -> list[tuple[datetime, datetime, Score]]:
    length = period.end - period.start
    step = timedelta(days=1) if length <= timedelta(days=62) else timedelta(days=7)
    while length / step > 60:
        step *= 2
    points: list[tuple[datetime, datetime, Score]] = []
    end = period.end
    while end > period.start and len(points) < 60:
        start = end - timedelta(days=days)
        points.append((start, end, score_of(counted(rows, start, end, count))))
        end -= step
    return points[::-1]


def cells_expected(rows: list[Row], dimension: str) -> tuple[dict[str | None, Score], tuple[int, int]]:
    """Shown cells {value: score} and (hidden cells, hidden people)."""
    groups: dict[str | None, list[Row]] = {}
    for row in rows:
        values: tuple[str | None, ...] = (
            (row.accounts or (None,)) if dimension == "account" else (row.values[dimension],)
        )
        for value in values:
            groups.setdefault(value, []).append(row)
    scores = {value: score_of(members) for value, members in groups.items()}
    hidden = [score.n for score in scores.values() if cell_hidden(score.n)]
    return {value: score for value, score in scores.items() if not cell_hidden(score.n)}, (
        len(hidden),
        sum(hidden),
    )


def as_points(points: Iterable[object]) -> list[tuple[datetime, datetime, Score]]:
    return [(point.start, point.end, point.score) for point in points]  # type: ignore[attr-defined]


def report_of(
    survey: Survey | None, period: Window, count: str, granularity: str, tz: tzinfo, days: int
) -> Report:
    """The report of `survey` (hub-wide: None) with every number the brute force checks."""
    return report_build(
        survey=survey,
        period=period,
        count=count,  # type: ignore[arg-type]
        breakdowns=BREAKDOWNS,
        granularity=granularity,  # type: ignore[arg-type]
        rolling_days=days,
        tz=tz,
    )


def numbers_match(
    report: Report, rows: list[Row], period: Window, count: str, granularity: str, tz: tzinfo, days: int
) -> list[Row]:
    """Assert the report's score, distribution, period before, trend, rolling windows and breakdowns
    (BREAKDOWNS) against the brute force over `rows`; the period's counted rows."""
    now = counted(rows, period.start, period.end, count)
    assert report.score == score_of(now)
    assert report.distribution == [sum(1 for row in now if row.rating == rating) for rating in range(11)]
    before = period.start - (period.end - period.start)
    assert report.previous == score_of(counted(rows, before, period.start, count))
    assert as_points(report.trend) == trend_expected(rows, period, count, granularity, tz)
    assert as_points(report.rolling) == rolling_expected(rows, period, count, days)
    for breakdown, dimension in zip(report.breakdowns, BREAKDOWNS, strict=True):
        shown, hidden = cells_expected(now, dimension)
        assert {cell.value: cell.score for cell in breakdown.cells} == shown, dimension
        assert (breakdown.hidden_cells, breakdown.hidden_people) == hidden, dimension
    return now


CASES = [
    # period, count, granularity, time zone, rolling days
    (
        Window(datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 4, 20, 15, 30, tzinfo=UTC)),
        "people",
        "day",
        BERLIN,
        30,
    ),
    (
        Window(datetime(2026, 3, 10, tzinfo=UTC), datetime(2026, 4, 20, 15, 30, tzinfo=UTC)),
        "answers",
        "day",
        BERLIN,
        30,
    ),
    (
        Window(datetime(2026, 9, 1, tzinfo=BERLIN), datetime(2026, 11, 30, 7, tzinfo=BERLIN)),
        "people",
        "week",
        BERLIN,
        90,
    ),
    (
        Window(datetime(2026, 9, 1, tzinfo=BERLIN), datetime(2026, 11, 30, 7, tzinfo=BERLIN)),
        "answers",
        "month",
        BERLIN,
        30,
    ),
    (
        Window(datetime(2026, 5, 2, 12, tzinfo=UTC), datetime(2026, 12, 31, tzinfo=UTC)),
        "people",
        "month",
        UTC,
        90,
    ),
    (Window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)), "people", "week", UTC, 30),
]


@pytest.mark.parametrize(("period", "count", "granularity", "tz", "days"), CASES)
def test_every_number_matches_a_brute_force_count(
    period: Window, count: str, granularity: str, tz: tzinfo, days: int
) -> None:
    survey = survey_make(tags=["Support"])
    rows = answers_written(survey, seed=13)
    other = survey_make(name="Other", slug="other")
    answer_make(survey=other, rating=0, at=period.start + timedelta(days=1))  # another survey's

    report = report_of(survey, period, count, granularity, tz, days)

    now = numbers_match(report, rows, period, count, granularity, tz, days)
    (driver,) = report.drivers
    pairs = [(row.support, float(row.rating)) for row in now if row.support is not None]
    assert driver.answers == len(pairs)
    assert driver.average == pytest.approx(sum(x for x, _ in pairs) / len(pairs))
    # Pearson's r by the standard library, not by the sums the report feeds insights/stats.py.
    supports, ratings = [x for x, _ in pairs], [y for _, y in pairs]
    assert driver.correlation == pytest.approx(statistics.correlation(supports, ratings))


def test_filters_pick_each_persons_latest_answer_among_the_matching_ones() -> None:
    survey = survey_make(tags=["Support"])
    rows = answers_written(survey, seed=7)
    period = Window(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
    matching: Callable[[Row], bool] = lambda row: row.values["language"] == "de"  # noqa: E731

    report = report_build(
        survey=survey, period=period, filters={"language": "de"}, granularity="month", rolling_days=90
    )

    kept = [row for row in rows if matching(row)]
    assert report.score == score_of(counted(kept, period.start, period.end, "people"))
    assert as_points(report.trend) == trend_expected(kept, period, "people", "month", UTC)
    assert as_points(report.rolling) == rolling_expected(kept, period, "people", 90)


@pytest.mark.parametrize(("period", "count", "granularity", "tz", "days"), [CASES[0], CASES[2], CASES[5]])
def test_the_hub_wide_report_counts_each_person_once_across_surveys(
    period: Window, count: str, granularity: str, tz: tzinfo, days: int
) -> None:
    """The overview: a person who answered two surveys counts once, by their latest answer to either."""
    survey = survey_make(tags=["Support"])
    rows = answers_written(survey, seed=21, also=survey_make(name="Other", slug="other"))

    report = report_of(None, period, count, granularity, tz, days)

    numbers_match(report, rows, period, count, granularity, tz, days)
