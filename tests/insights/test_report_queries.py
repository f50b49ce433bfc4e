"""The report's cost on PostgreSQL: a survey's report reads each person's latest answer from the answers
(superseded_at); with a filter on the answer it is picked once for the period's score, distribution,
drivers and every breakdown (not once per query); the trend and the rolling windows come from one pass
over the answers, and nothing is left behind."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from insights.selectors import Window
from insights.services.reports import report_build
from tests.conftest import service_missing
from tests.insights.answers import answer_make
from tests.surveys.factories import person_make, survey_make

pytestmark = pytest.mark.django_db

MARCH = Window(start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC))
MID_MARCH = datetime(2026, 3, 15, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _postgresql() -> None:
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (the report's temporary table)")


def _captured_report(filters: dict[str, str]) -> tuple[list[str], Any]:
    """Ten people answering 3 then 10 in March; the report's SQL and the report."""
    survey = survey_make()
    for index in range(10):
        person = person_make(traits={"plan": "pro" if index % 2 else "free"})
        answer_make(survey=survey, person=person, rating=3, at=MID_MARCH, language="en")
        answer_make(survey=survey, person=person, rating=10, at=MID_MARCH + timedelta(days=1), language="en")

    with CaptureQueriesContext(connection) as queries:
        report = report_build(
            survey=survey,
            period=MARCH,
            filters=filters,
            breakdowns=["source", "language", "channel", "trait:plan"],
            rolling_days=30,
        )
    assert (report.score.n, report.score.promoters) == (10, 10)  # each person's latest answer
    assert [(cell.value, cell.score.n, cell.score.nps) for cell in report.breakdowns[3].cells] == [
        ("free", 5, 100),
        ("pro", 5, 100),
    ]
    sqls = [query["sql"] for query in queries.captured_queries]
    # The response rate reads the invitations alone (each marked answered with its answer), without
    # joining every answer of the table.
    (rate,) = [sql for sql in sqls if '"delivered"' in sql]
    assert "surveys_response" not in rate
    return sqls, report


@pytest.mark.parametrize("filtered", [False, True], ids=["unfiltered", "filtered on the person's source"])
def test_a_surveys_report_reads_each_persons_latest_answer_from_the_answers_themselves(
    filtered: bool,
) -> None:
    # person_make's people share one source
    sqls, report = _captured_report({"source": str(person_make().source_id)} if filtered else {})
    assert report.response_rate is not None
    assert (report.response_rate.answered, report.response_rate.delivered) == (20, 20)

    # No per-person step at all: each answer knows when its person answered next (superseded_at); the
    # trend and the rolling windows in one pass; no breakdown joins the person, invitation or event.
    assert not [sql for sql in sqls if "DISTINCT ON" in sql or "LAG(" in sql]
    assert sum("superseded_at" in sql for sql in sqls) == 3  # the pass, the period's table, the period before
    assert sum("UNION ALL SELECT 1, d1" in sql for sql in sqls) == 1
    assert not [sql for sql in sqls if "report_counted_" in sql and "JOIN" in sql and "CREATE" not in sql]


def test_with_a_filter_on_the_answer_each_persons_latest_is_picked_once_not_once_per_breakdown() -> None:
    sqls, _ = _captured_report({"language": "en"})

    # A filter on the answer's own values may skip a person's latest answer: the period's people are
    # picked once (into a temporary table), the period before's once; the trend and the rolling
    # windows in one pass.
    assert sum("DISTINCT ON" in sql for sql in sqls) == 2
    assert sum("LAG(" in sql for sql in sqls) == 1
    assert sum("UNION ALL SELECT 1, d1" in sql for sql in sqls) == 1
    assert not [sql for sql in sqls if "report_counted_" in sql and "JOIN" in sql and "CREATE" not in sql]


def test_the_overview_reads_each_persons_latest_answer_across_surveys_from_the_answers() -> None:
    """Hub-wide a person counts once across surveys: each answer knows its person's next answer to any
    survey (hub_superseded_at), so the overview needs no per-person step either."""
    surveys = [survey_make(), survey_make(name="Support", slug="support")]
    for index in range(10):
        person = person_make()
        for day, survey in enumerate(surveys):
            answer_make(survey=survey, person=person, rating=3, at=MID_MARCH + timedelta(days=day))
        answer_make(survey=surveys[index % 2], person=person, rating=10, at=MID_MARCH + timedelta(days=3))

    with CaptureQueriesContext(connection) as queries:
        report = report_build(survey=None, period=MARCH, breakdowns=["source"], rolling_days=30)

    assert (report.score.n, report.score.promoters) == (10, 10)
    sqls = [query["sql"] for query in queries.captured_queries]
    assert not [sql for sql in sqls if "DISTINCT ON" in sql or "LAG(" in sql]
    # The pass, the period's table, the period before.
    assert sum("hub_superseded_at" in sql for sql in sqls) == 3


def test_no_temporary_table_is_left_behind_and_a_second_report_gives_the_same_numbers() -> None:
    survey = survey_make()
    for rating in (10, 10, 9, 8, 2, 0):
        answer_make(survey=survey, rating=rating, at=MID_MARCH)

    first = report_build(survey=survey, period=MARCH)
    second = report_build(survey=survey, period=MARCH)

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'report_counted_%%'")
        assert cursor.fetchone() == (0,)
    assert first.score == second.score
    assert first.distribution == second.distribution == [1, 0, 1, 0, 0, 0, 0, 0, 1, 1, 2]
