"""Each answer keeps when its person next answered the same survey (`Response.superseded_at`) and any
survey (`hub_superseded_at`), so that a survey's report and the hub-wide one find each person's latest
answer with a filter: kept as answers arrive, when two people are merged, when one is erased, for
answers given before the columns existed, and when two answers of one person arrive at once."""

import threading
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib import import_module
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from customers.models import Person
from customers.services.erasure import person_erase_record
from customers.services.people import person_merge
from insights.selectors import Window
from insights.services.reports import report_build
from surveys.models import Response, Survey
from surveys.services import responses
from surveys.services.responses import response_record
from tests.conftest import service_missing
from tests.surveys.factories import answer_make
from tests.surveys.factories_pages import page_invitation, page_person, page_source, page_survey
from tests.threads import in_threads

pytestmark = pytest.mark.django_db

START = datetime(2026, 3, 2, 9, tzinfo=UTC)
MARCH = Window(start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC))
SUPERSEDED_MIGRATION = "0015_response_superseded_at"
HUB_SUPERSEDED_MIGRATION = "0016_response_hub_superseded_at"


def _answered(survey: Survey, person: Person, rating: int, at: datetime) -> Response:
    """`person` clicks `rating` in an email of `survey` at `at` (the answer page's service)."""
    with time_machine.travel(at, tick=False):
        return response_record(invitation=page_invitation(survey=survey, person=person), rating=rating)


def _people_and_score(survey: Survey) -> tuple[int, float | None]:
    score = report_build(survey=survey, period=MARCH, compare=False).score
    return score.n, score.nps


def test_a_second_answer_supersedes_the_first_and_the_person_counts_once_with_it() -> None:
    survey, person = page_survey(), page_person()
    first = _answered(survey, person, 0, START)
    second = _answered(survey, person, 10, START + timedelta(days=3))

    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.superseded_at, second.superseded_at) == (second.answered_at, None)
    assert _people_and_score(survey) == (1, 100)
    # The first half of March still counts the first answer: its next answer came after.
    half = report_build(survey=survey, period=Window(start=MARCH.start, end=START + timedelta(days=1)))
    assert (half.score.n, half.score.nps) == (1, -100)


def test_answers_to_another_survey_supersede_only_hub_wide() -> None:
    survey, other, person = page_survey(), page_survey(name="Other", slug="other"), page_person()
    answer = _answered(survey, person, 10, START)
    later = _answered(other, person, 0, START + timedelta(days=1))

    answer.refresh_from_db()
    assert (answer.superseded_at, answer.hub_superseded_at) == (None, later.answered_at)
    assert _people_and_score(survey) == (1, 100)
    # The overview counts the person once, with their later answer (to the other survey).
    hub_wide = report_build(period=MARCH, compare=False).score
    assert (hub_wide.n, hub_wide.nps) == (1, -100)


def test_merged_people_count_once_with_the_later_answer() -> None:
    survey = page_survey()
    known = page_person(user_id="u-1", email="ann@example.com")
    anonymous = page_person(user_id="", email="")
    answer_make(survey=survey, person=anonymous, rating=10, at=START + timedelta(days=1))
    answer_make(survey=survey, person=known, rating=0, at=START)
    assert _people_and_score(survey) == (2, 0)

    person_merge(keep=known, gone=anonymous)

    assert _people_and_score(survey) == (1, 100)
    assert list(
        Response.objects.order_by("answered_at").values_list("superseded_at", "hub_superseded_at")
    ) == [
        (START + timedelta(days=1), START + timedelta(days=1)),
        (None, None),
    ]
    assert report_build(period=MARCH, compare=False).score.n == 1


def test_an_erased_persons_answers_each_count_and_keep_no_next_answer() -> None:
    survey, person = page_survey(), page_person()
    answer_make(survey=survey, person=person, rating=10, at=START)
    answer_make(survey=survey, person=person, rating=10, at=START + timedelta(days=1))
    assert _people_and_score(survey) == (1, 100)

    person_erase_record(person=person, requested_by="test")

    assert (
        list(Response.objects.values_list("person_id", "superseded_at", "hub_superseded_at"))
        == [(None, None, None)] * 2
    )
    assert _people_and_score(survey) == (2, 100)
    assert report_build(period=MARCH, compare=False).score.n == 2


def test_answers_from_before_the_column_get_their_next_answer_from_the_migration() -> None:
    survey, person = page_survey(), page_person()
    for day, rating in enumerate([0, 5, 10]):
        answer_make(survey=survey, person=person, rating=rating, at=START + timedelta(days=day))
    answer_make(survey=survey, rating=9, at=START)  # someone else's
    Response.objects.update(superseded_at=None)  # as AddField leaves every existing row

    historical = MigrationExecutor(connection).loader.project_state(("surveys", SUPERSEDED_MIGRATION)).apps
    import_module(f"surveys.migrations.{SUPERSEDED_MIGRATION}").superseded_at_fill(historical, None)

    assert list(Response.objects.order_by("answered_at", "pk").values_list("rating", "superseded_at")) == [
        (0, START + timedelta(days=1)),
        (9, None),
        (5, START + timedelta(days=2)),
        (10, None),
    ]
    assert _people_and_score(survey) == (2, 100)


def test_answers_from_before_the_hub_wide_column_get_their_next_answer_to_any_survey() -> None:
    survey, other, person = page_survey(), page_survey(name="Other", slug="other"), page_person()
    for day, (asked, rating) in enumerate([(survey, 0), (other, 5), (survey, 10)]):
        answer_make(survey=asked, person=person, rating=rating, at=START + timedelta(days=day))
    answer_make(survey=other, rating=9, at=START)  # someone else's
    Response.objects.update(hub_superseded_at=None)  # as AddField leaves every existing row

    historical = (
        MigrationExecutor(connection).loader.project_state(("surveys", HUB_SUPERSEDED_MIGRATION)).apps
    )
    import_module(f"surveys.migrations.{HUB_SUPERSEDED_MIGRATION}").hub_superseded_at_fill(historical, None)

    assert list(
        Response.objects.order_by("answered_at", "pk").values_list(
            "rating", "superseded_at", "hub_superseded_at"
        )
    ) == [
        (0, START + timedelta(days=2), START + timedelta(days=1)),
        (9, None, None),
        (5, None, START + timedelta(days=2)),
        (10, None, None),
    ]
    hub_wide = report_build(period=MARCH, compare=False).score
    assert (hub_wide.n, hub_wide.promoters) == (2, 2)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("surveys", [1, 2], ids=["one survey", "two surveys"])
def test_two_answers_of_one_person_at_once_leave_one_latest(
    monkeypatch: pytest.MonkeyPatch, surveys: int
) -> None:
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (two writers at once; SQLite has one)")
    asked = [page_survey(), page_survey(name="Other", slug="other")][:surveys]
    survey = asked[0]
    person = page_person(source=page_source())
    invitations = [page_invitation(survey=asked[index % surveys], person=person) for index in range(2)]
    # Both answers are stored before either looks for the other: without the lock each would see only
    # itself and both would stay "latest" (the person counted twice).
    stored = threading.Barrier(2, timeout=10)
    get_or_create = Response.objects.get_or_create

    def get_or_create_then_wait(**kwargs: Any) -> tuple[Response, bool]:
        answer = get_or_create(**kwargs)
        stored.wait()
        return answer

    monkeypatch.setattr(responses.Response.objects, "get_or_create", get_or_create_then_wait)

    in_threads(*[partial(response_record, invitation=invitation, rating=9) for invitation in invitations])

    assert Response.objects.filter(hub_superseded_at__isnull=True).count() == 1
    assert Response.objects.filter(superseded_at__isnull=True).count() == surveys
    until_now = Window(start=START, end=datetime.now(UTC) + timedelta(hours=1))
    assert report_build(survey=survey, period=until_now).score.n == 1
    assert report_build(period=until_now).score.n == 1
