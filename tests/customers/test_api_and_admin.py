"""People and accounts in the management API and on the admin's person page."""

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import Person
from tests.customers.test_people import fixture, send

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(client: Client, write_key: str) -> None:
    send(
        client,
        write_key,
        fixture("identify__anonymous"),
        fixture("identify__camel_case"),
        fixture("group__account"),
        fixture("identify__snake_case"),
        {
            "type": "track",
            "userId": "u-camel",
            "event": "Order Completed",
            "timestamp": "2026-03-01T10:20:00Z",
        },
    )


def test_people_are_listed_with_traits_and_account_ids(api_client: APIClient, people: None) -> None:
    results = api_client.get("/api/people/?user_id=u-camel").json()["results"]

    [bob] = results
    assert bob["email"] == "bob@example.com"
    assert bob["account_ids"] == ["acme-1"]
    assert bob["traits"]["firstName"] == "Bob"
    assert bob["source"] == "web-app"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("email=ANN.SMITH@example.com", ["u-snake"]),
        ("source=web-app", [None, "u-camel", "u-snake"]),
        ("source=other", []),
    ],
)
def test_people_filters(api_client: APIClient, people: None, query: str, expected: list[Any]) -> None:
    results = api_client.get(f"/api/people/?{query}").json()["results"]
    assert sorted(results and [r["user_id"] for r in results], key=str) == sorted(expected, key=str)


def test_one_person_comes_with_recent_events(api_client: APIClient, people: None) -> None:
    person = Person.objects.get(user_id="u-camel")

    body = api_client.get(f"/api/people/{person.pk}/").json()

    assert [e["type"] for e in body["recent_events"]] == ["track", "group", "identify"]
    assert body["recent_events"][0]["event"] == "Order Completed"


def test_accounts_are_listed(api_client: APIClient, people: None) -> None:
    [account] = api_client.get("/api/accounts/").json()["results"]
    assert (account["group_id"], account["name"], account["employees"]) == ("acme-1", "Acme Inc", 120)


def test_the_person_page_shows_fields_traits_accounts_and_timeline(admin_client: Any, people: None) -> None:
    person = Person.objects.get(user_id="u-camel")

    page = admin_client.get(f"/admin/customers/person/{person.pk}/change/").content.decode()

    assert "bob@example.com" in page
    assert "Europe/Paris" in page
    assert '<tr><th scope="row">firstName</th><td>Bob</td></tr>' in page  # all traits, as a table
    assert "Acme Inc" in page
    assert "Order Completed" in page  # the timeline of recent calls


@pytest.mark.parametrize("term", ["bob@example.com", "u-camel"])
def test_people_are_found_by_email_and_user_id(admin_client: Any, people: None, term: str) -> None:
    page = admin_client.get("/admin/customers/person/", {"q": term}).content.decode()
    assert "bob@example.com" in page
    assert "ann.smith@example.com" not in page


def test_an_anonymous_person_is_found_by_anonymous_id(admin_client: Any, people: None) -> None:
    page = admin_client.get("/admin/customers/person/", {"q": "anon-123"}).content.decode()
    assert "anonymous #" in page


def test_the_person_page_shows_survey_history(admin_client: Any, people: None) -> None:
    from surveys.models import Invitation, Response, Survey

    person = Person.objects.get(user_id="u-camel")
    survey = Survey.objects.create(name="Onboarding NPS", slug="onboarding")
    invitation = Invitation.objects.create(
        survey=survey, person=person, due_at=timezone.now(), status="responded"
    )
    Response.objects.create(
        invitation=invitation, survey=survey, person=person, rating=9, comment="Great onboarding"
    )

    page = admin_client.get(f"/admin/customers/person/{person.pk}/change/").content.decode()

    assert "Onboarding NPS" in page
    assert "Great onboarding" in page
