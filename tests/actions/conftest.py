"""Answers to act on: a survey, a person (with an account), an invitation answered through the same
services the survey page calls, and alert channels pointed at local servers (Slack, SMTP)."""

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from actions.models import AlertRule
from customers.models import Account, Membership, Person
from integrations.models import Destination, Source
from surveys.models import Response, Survey
from surveys.services.responses import response_followup_save, response_record
from tests.integrations.connectors.outbound import destination_create
from tests.sources import source_default
from tests.surveys.conftest import SmtpRecorder, smtp_server  # noqa: F401 - the SMTP fixtures
from tests.surveys.conftest import smtp as smtp
from tests.surveys.factories import invitation_make, person_make, survey_make

SLACK_PATH = "/services/T0001/B0002/slack7f3a"


def customer(
    *, plan: str = "enterprise", licenses: int = 120, source: Source | None = None, **fields: Any
) -> Person:
    source = source or source_default()
    person = person_make(source=source, **{"first_name": "Ann", "name": "Ann Smith", **fields})
    account, _ = Account.objects.get_or_create(
        source=source,
        group_id=f"acct-{plan}-{licenses}",
        defaults={"name": f"{plan.title()} Corp", "traits": {"plan": plan, "licenses": licenses}},
    )
    Membership.objects.create(person=person, account=account)
    return person


def answer(person: Person, rating: int, comment: str = "", *, survey: Survey | None = None) -> Response:
    """The person clicks `rating` in the survey email, then (with a comment) sends the follow-up."""
    survey = survey or Survey.objects.first() or survey_make()
    response = response_record(invitation=invitation_make(survey=survey, person=person), rating=rating)
    if comment:
        response = response_followup_save(response=response, comment=comment, tag_ratings={})
    return response


def person_of(response: Response) -> Person:
    assert response.person is not None
    return response.person


def change(response: Response, rating: int) -> Response:
    return response_record(invitation=response.invitation, rating=rating)


@pytest.fixture
def survey(db: None) -> Survey:
    return survey_make()


@pytest.fixture
def slack(httpserver: HTTPServer) -> Destination:
    httpserver.expect_request(SLACK_PATH, method="POST").respond_with_data("ok")
    return destination_create(
        "slack",
        name="CS channel",
        settings={"base_url": httpserver.url_for("/").rstrip("/")},
        secrets={"webhook_url": httpserver.url_for(SLACK_PATH)},
        call_types=[],
    )


@pytest.fixture
def team_email(db: None) -> Destination:
    return destination_create(
        "staff_email", name="CS team", settings={"to": ["cs-team@acme.example"]}, secrets={}, call_types=[]
    )


def rule_make(*destinations: Destination, **fields: Any) -> AlertRule:
    rule = AlertRule.objects.create(**{"name": "Enterprise detractors", **fields})
    rule.destinations.set(destinations)
    return rule


def slack_messages(httpserver: HTTPServer) -> list[dict[str, Any]]:
    import json

    return [json.loads(request.get_data()) for request, _ in httpserver.log if request.path == SLACK_PATH]
