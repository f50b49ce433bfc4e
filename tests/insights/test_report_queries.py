"""The report's cost on PostgreSQL: each person's latest answer is picked once for the period's score,
distribution, drivers and every breakdown (not once per query), the period before, the trend and the
rolling windows come from one pass over the answers, and nothing is left behind."""

from datetime import UTC, datetime, timedelta

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


def test_the_per_person_step_runs_once_for_the_period_not_once_per_breakdown() -> None:
    survey = survey_make()
    for index in range(10):
        person = person_make(traits={"plan": "pro" if index % 2 else "free"})
        answer_make(survey=survey, person=person, rating=3, at=MID_MARCH)
        answer_make(survey=survey, person=person, rating=10, at=MID_MARCH + timedelta(days=1))

    with CaptureQueriesContext(connection) as queries:
        report = report_build(
            survey=survey,
            period=MARCH,
            breakdowns=["source", "language", "channel", "trait:plan"],
            rolling_days=30,
        )

    sqls = [query["sql"] for query in queries.captured_queries]
    # The period's people once (into a temporary table), the period before's once; the trend and the
    # rolling windows in one pass; no breakdown joins the person, the invitation or the trigger event.
    assert sum("DISTINCT ON" in sql for sql in sqls) == 2
    assert sum("LAG(" in sql for sql in sqls) == 1
    assert sum("UNION ALL SELECT 1, d1" in sql for sql in sqls) == 1
    assert not [sql for sql in sqls if "report_counted_" in sql and "JOIN" in sql and "CREATE" not in sql]
    assert (report.score.n, report.score.promoters) == (10, 10)  # each person's latest answer
    assert [(cell.value, cell.score.n, cell.score.nps) for cell in report.breakdowns[3].cells] == [
        ("free", 5, 100),
        ("pro", 5, 100),
    ]


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
