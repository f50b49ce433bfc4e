"""What the sync-back tells Segment about a person's answers as they happen: answered on the survey
page, a comment added later, a form sent again unchanged, two records merged by an alias call. A
real local HTTP server stands in for Segment."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone
from pytest_httpserver import HTTPServer

from customers.models import Person
from integrations.models import Destination, Source
from surveys.models import Response
from surveys.services.responses import response_followup_save
from tests.customers.test_people import send
from tests.surveys.factories_pages import page_click, page_invitation, page_path, page_survey
from tests.surveys.sync_back.conftest import START, answer_add, run, segment_ok, sent_events

RATED_AT_MIGRATION = "0004_response_rated_at"


@pytest.fixture
def segment(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    return httpserver


@pytest.fixture
def clock() -> Iterator[Any]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def _iso(at: datetime) -> str:
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _answer(person: Person, score: int, **survey: Any) -> str:
    """`person` clicks `score` in their survey email; returns their answer page's path."""
    invitation = page_invitation(survey=page_survey(**survey), person=person)
    path = page_path(invitation)
    assert page_click(Client(), path, score).status_code == 302
    return path


def _followup(path: str, score: int, comment: str) -> None:
    """The follow-up form sent from the answer page (the score, as shown, comes with it)."""
    client = Client()
    assert client.get(path).status_code == 200
    assert client.post(path, {"rating": str(score), "comment": comment}).status_code == 302


def test_nps_date_is_when_the_rating_was_given_not_when_a_comment_came(
    destination: Destination, source: Source, segment: HTTPServer, clock: Any
) -> None:
    ann = Person.objects.create(source=source, user_id="u-ann", email="ann@example.com")
    path = _answer(ann, 6)
    run(destination)

    clock.move_to(START + timedelta(hours=2))
    _followup(path, 6, "Support was slow")  # the follow-up, answered later
    run(destination)
    clock.move_to(START + timedelta(hours=5))
    _followup(path, 8, "Support was slow")  # back on the page: a changed score
    run(destination)

    first, comment, rerated = sent_events(segment)
    assert first["traits"] == {"NPS_rating": 6, "NPS_comment": "", "NPS_date": _iso(START)}
    assert comment["traits"] == {"NPS_rating": 6, "NPS_comment": "Support was slow", "NPS_date": _iso(START)}
    assert comment["timestamp"] == _iso(START + timedelta(hours=2))  # the time of the change it reports
    rated_again = _iso(START + timedelta(hours=5))
    assert rerated["traits"] == {"NPS_rating": 8, "NPS_comment": "Support was slow", "NPS_date": rated_again}
    assert Response.objects.get().rated_at == START + timedelta(hours=5)


def test_a_followup_that_changes_nothing_is_not_synced_again(
    destination: Destination, source: Source, segment: HTTPServer, clock: Any
) -> None:
    ann = Person.objects.create(source=source, user_id="u-ann", email="ann@example.com")
    path = _answer(ann, 9)
    _followup(path, 9, "Great onboarding")
    run(destination)
    synced = Response.objects.get()
    synced_at = synced.updated_at

    clock.move_to(START + timedelta(hours=1))
    _followup(path, 9, "Great onboarding")  # the same form sent again (a reload, a double click)
    response_followup_save(response=synced, comment="Great onboarding", tag_ratings={})
    report = run(destination)

    assert Response.objects.get().updated_at == synced_at
    assert report.people == 0
    assert len(sent_events(segment)) == 1


@pytest.mark.parametrize("their_own", ["older", "newer"])
def test_after_an_alias_merge_the_survivor_s_latest_answer_is_synced_under_their_id(
    destination: Destination,
    source: Source,
    write_key: str,
    segment: HTTPServer,
    clock: Any,
    client: Client,
    their_own: str,
) -> None:
    send(
        client,
        write_key,
        {"type": "identify", "userId": "crm-17", "traits": {"email": "ann@example.com"}},
        {"type": "identify", "userId": "app-17", "traits": {"email": "ann@example.com"}},
    )
    crm, app = Person.objects.get(user_id="crm-17"), Person.objects.get(user_id="app-17")
    first, second = (app, crm) if their_own == "older" else (crm, app)
    _answer(first, 3 if first == app else 10, name="First NPS", slug="first-nps")
    clock.move_to(START + timedelta(days=2))
    _answer(second, 3 if second == app else 10, name="Second NPS", slug="second-nps")
    run(destination)
    assert {(e["userId"], e["traits"]["NPS_rating"]) for e in sent_events(segment)} == {
        ("crm-17", 10),
        ("app-17", 3),
    }

    clock.move_to(START + timedelta(days=3))
    send(client, write_key, {"type": "alias", "previousId": "crm-17", "userId": "app-17"})
    run(destination)

    assert list(Person.objects.values_list("user_id", flat=True)) == ["app-17"]
    latest = Response.objects.order_by("answered_at").last()
    assert latest is not None
    events = sent_events(segment)
    last_for_app = [e for e in events if e.get("userId") == "app-17"][-1]
    assert last_for_app["traits"] == {
        "NPS_rating": latest.rating,
        "NPS_comment": "",
        "NPS_date": _iso(latest.rated_at),
    }
    if their_own == "older":  # crm-17's later answer is app-17's latest now: sent under app-17
        assert (last_for_app["traits"]["NPS_rating"], len(events)) == (10, 3)
    else:  # app-17's own later answer was sent already, and stays theirs
        assert (last_for_app["traits"]["NPS_rating"], len(events)) == (3, 2)


def test_answers_from_before_the_migration_are_dated_by_their_first_answer(
    destination: Destination, source: Source, segment: HTTPServer
) -> None:
    ann = Person.objects.create(source=source, user_id="u-ann")
    answer = answer_add(ann, rating=7, at=START, comment="Added a day later")
    Response.objects.filter(pk=answer.pk).update(
        rated_at=timezone.now(), updated_at=START + timedelta(days=1)
    )  # what AddField's default gives every existing row

    historical = MigrationExecutor(connection).loader.project_state(("surveys", RATED_AT_MIGRATION)).apps
    import_module(f"surveys.migrations.{RATED_AT_MIGRATION}").rated_at_backfill(historical, None)
    run(destination)

    answer.refresh_from_db()
    assert (answer.rated_at, answer.updated_at) == (START, START + timedelta(days=1))
    (event,) = sent_events(segment)
    assert event["traits"]["NPS_date"] == _iso(START)
