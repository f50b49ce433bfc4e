"""Surveys from a script: create and change them, read invitations and responses, ask why (not)."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from customers.models import Person
from integrations.models import InboundEvent, Source
from integrations.services import inbound_events_process, source_create
from surveys.models import Invitation, Response, Survey

pytestmark = pytest.mark.django_db

CHECKOUT = {
    "name": "Checkout NPS",
    "enabled": True,
    "min_delay_days": 0,
    "max_delay_days": 0,
    "resurvey_interval_days": 90,
    "triggers": [{"source": "web-app", "call_type": "track", "event": "Order Completed"}],
    "template": {
        "subject": "A quick question about your order",
        "company_name": "Acme",
        "sender_name": "Acme Team",
        "sender_email": "team@acme.example",
        "tags": ["Delivery", "Price"],
        "accent_color": "#ff6600",
    },
}


def send(client: Client, key: str, *events: dict[str, Any]) -> None:
    """POST a batch to the intake, then process it as a worker would."""
    before = InboundEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    body = json.dumps({"batch": list(events), "writeKey": key})
    assert client.post("/v1/batch", body, content_type="application/json").status_code == 200
    inbound_events_process(ids=InboundEvent.objects.filter(pk__gt=before).values_list("pk", flat=True))


def test_a_survey_created_by_the_api_invites_on_its_track_trigger(
    api_client: APIClient, client: Client, write_key: str
) -> None:
    response = api_client.post("/api/surveys/", CHECKOUT, format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["slug"], body["enabled"]) == ("checkout-nps", True)
    assert body["triggers"][0] | {"id": 0} == {
        "id": 0,
        "source": "web-app",
        "call_type": "track",
        "event": "Order Completed",
        "conditions": [],
        "enabled": True,
    }
    assert body["template"]["tags"] == ["Delivery", "Price"]
    # Texts not given get the standard NPS wording.
    assert (
        body["template"]["question"]
        == "How likely are you to recommend {{ company }} to a friend or colleague?"
    )
    assert body["stats"] == {"invitations_sent": 0, "responses": 0, "nps": None}

    identify = {"type": "identify", "userId": "u-1", "traits": {"email": "ann@example.com"}}
    viewed = {"type": "track", "userId": "u-1", "event": "Product Viewed"}
    send(client, write_key, identify, viewed)
    assert not Invitation.objects.exists()  # another event: no invitation
    send(client, write_key, {"type": "track", "userId": "u-1", "event": "Order Completed"})

    [invitation] = Invitation.objects.all()
    assert invitation.survey.slug == "checkout-nps"
    assert invitation.person is not None
    assert invitation.person.email == "ann@example.com"
    assert invitation.status == "scheduled"


def test_patch_changes_fields_and_replaces_the_triggers(api_client: APIClient, source: Source) -> None:
    other, _ = source_create(name="Mobile", slug="mobile")
    survey_id = api_client.post("/api/surveys/", CHECKOUT, format="json").json()["id"]

    response = api_client.patch(
        f"/api/surveys/{survey_id}/",
        {
            "enabled": False,
            "template": {"question": "Would you recommend {{ company }}?"},
            "triggers": [{"source": "mobile", "call_type": "identify"}],
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    survey = Survey.objects.get(pk=survey_id)
    assert not survey.automation_enabled
    assert survey.question == "Would you recommend {{ company }}?"
    assert survey.subject == "A quick question about your order"  # untouched
    assert [(t.source, t.call_type, t.event_name) for t in survey.triggers.all()] == [(other, "identify", "")]
    assert response.json()["triggers"][0]["source"] == "mobile"


def test_a_patch_without_triggers_keeps_them(api_client: APIClient, source: Source) -> None:
    survey_id = api_client.post("/api/surveys/", CHECKOUT, format="json").json()["id"]

    api_client.patch(f"/api/surveys/{survey_id}/", {"max_delay_days": 30}, format="json")

    assert Survey.objects.get(pk=survey_id).triggers.count() == 1


def test_translations_are_written_and_read(api_client: APIClient, source: Source) -> None:
    body = {**CHECKOUT, "translations": [{"language": "nl", "question": "Zou u {{ company }} aanraden?"}]}

    survey_id = api_client.post("/api/surveys/", body, format="json").json()["id"]
    got = api_client.get(f"/api/surveys/{survey_id}/").json()

    assert got["translations"][0]["language"] == "nl"
    assert got["translations"][0]["question"] == "Zou u {{ company }} aanraden?"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"triggers": [{"source": "nowhere", "call_type": "identify"}]}, "triggers"),
        (
            {"triggers": [{"source": "web-app", "call_type": "identify", "conditions": [{"op": "x"}]}]},
            "triggers",
        ),
        ({"min_delay_days": 20, "max_delay_days": 14}, "min_delay_days"),
        ({"template": {"accent_color": "orange"}}, "template"),
        ({"name": ""}, "name"),
    ],
)
def test_invalid_surveys_are_refused_with_the_error_shape(
    api_client: APIClient, source: Source, changes: dict[str, Any], field: str
) -> None:
    response = api_client.post("/api/surveys/", {**CHECKOUT, **changes}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["message"] == "The request is not valid."
    assert field in body["errors"]
    assert not Survey.objects.exists()


def test_a_duplicate_name_gets_its_own_error_and_a_derived_slug_never_collides(
    api_client: APIClient, source: Source
) -> None:
    assert api_client.post("/api/surveys/", {"name": "NPS"}, format="json").status_code == 201
    duplicate = api_client.post("/api/surveys/", {"name": "NPS"}, format="json")
    assert duplicate.status_code == 400
    assert "name" in duplicate.json()["errors"]

    Survey.objects.filter(slug="nps").update(name="Old NPS")
    assert api_client.post("/api/surveys/", {"name": "NPS"}, format="json").json()["slug"] == "nps-2"


def test_the_api_needs_a_staff_token(source: Source) -> None:
    response = APIClient().get("/api/surveys/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def make_history(source: Source) -> tuple[Survey, Person, Person]:
    survey = Survey.objects.create(name="Onboarding", slug="onboarding")
    other = Survey.objects.create(name="Other", slug="other")
    ann = Person.objects.create(source=source, user_id="u-ann", email="ann@example.com")
    bob = Person.objects.create(source=source, user_id="u-bob", email="bob@example.com")
    now = timezone.now()
    for person, status, error in [(ann, "failed", "550 mailbox unavailable"), (bob, "sent", "")]:
        Invitation.objects.create(
            survey=survey, person=person, status=status, due_at=now, sent_at=now, error=error
        )
    Invitation.objects.create(survey=other, person=ann, status="scheduled", due_at=now + timedelta(days=3))
    return survey, ann, bob


def test_invitations_filter_by_survey_user_and_status(api_client: APIClient, source: Source) -> None:
    survey, _, _ = make_history(source)

    def ids(query: str) -> list[tuple[str, str, str]]:
        results = api_client.get(f"/api/invitations/?{query}").json()["results"]
        return sorted((r["survey"], r["user_id"], r["status"]) for r in results)

    assert ids("survey=onboarding") == [("onboarding", "u-ann", "failed"), ("onboarding", "u-bob", "sent")]
    assert ids(f"survey={survey.pk}&user_id=u-ann") == [("onboarding", "u-ann", "failed")]
    assert ids("status=scheduled") == [("other", "u-ann", "scheduled")]
    [failed] = api_client.get("/api/invitations/?status=failed").json()["results"]
    assert failed["error"] == "550 mailbox unavailable"
    assert failed["due_at"]
    assert failed["sent_at"]


def test_responses_filter_by_survey_user_and_since(api_client: APIClient, source: Source) -> None:
    survey, ann, bob = make_history(source)
    for person, rating, day in [(ann, 3, 1), (bob, 10, 5)]:
        Response.objects.create(
            invitation=Invitation.objects.get(survey=survey, person=person),
            survey=survey,
            person=person,
            rating=rating,
            comment=f"comment of {person.user_id}",
            tag_ratings={"Support": rating // 2},
            answered_at=datetime(2026, 3, day, 12, tzinfo=UTC),
            rated_at=datetime(2026, 3, day, 14, tzinfo=UTC),
        )

    def get(query: str) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = api_client.get(f"/api/responses/?{query}").json()["results"]
        return results

    [recent] = get("survey=onboarding&since=2026-03-02T00:00:00Z")
    assert (recent["user_id"], recent["rating"], recent["band"]) == ("u-bob", 10, "promoter")
    assert recent["comment"] == "comment of u-bob"
    assert recent["tag_ratings"] == {"Support": 5}
    assert recent["answered_at"] == "2026-03-05T12:00:00Z"
    assert recent["rated_at"] == "2026-03-05T14:00:00Z"  # the score changed two hours later
    assert [r["rating"] for r in get("user_id=u-ann")] == [3]
    assert get("survey=other") == []


def test_eligibility_explains_the_min_delay(api_client: APIClient, source: Source) -> None:
    survey = Survey.objects.create(
        name="Onboarding", slug="onboarding", automation_enabled=True, min_delay_days=3
    )
    person = Person.objects.create(
        source=source, user_id="u-new", email="new@example.com", created_at=timezone.now() - timedelta(days=1)
    )

    response = api_client.get(f"/api/people/{person.pk}/eligibility/?survey={survey.pk}")

    assert response.status_code == 200
    body = response.json()
    assert body["eligible"] is True
    assert any(r.startswith("min delay: created 1 day ago") for r in body["reasons"])
    send_at = datetime.fromisoformat(body["send_at"])
    assert timedelta(days=1, hours=23) < send_at - timezone.now() <= timedelta(days=2)
    assert body["next_eligible_at"] is None
    by_slug = api_client.get(f"/api/people/{person.pk}/eligibility/?survey=onboarding").json()
    assert by_slug["reasons"] == body["reasons"]


def test_eligibility_says_why_not(api_client: APIClient, source: Source) -> None:
    survey, _, bob = make_history(source)  # bob was sent this survey today
    Survey.objects.filter(pk=survey.pk).update(automation_enabled=True)

    body = api_client.get(f"/api/people/{bob.pk}/eligibility/?survey={survey.pk}").json()

    assert body["eligible"] is False
    assert body["reasons"] == [f"surveyed {timezone.now():%Y-%m-%d}, interval 26 weeks"]
    assert datetime.fromisoformat(body["next_eligible_at"]) > timezone.now() + timedelta(days=181)


@pytest.mark.parametrize(
    ("query", "code"),
    [("", "survey_required"), ("?survey=999", "survey_unknown"), ("?survey=x", "survey_unknown")],
)
def test_eligibility_needs_a_known_survey(
    api_client: APIClient, source: Source, query: str, code: str
) -> None:
    person = Person.objects.create(source=source, user_id="u-1", email="a@example.com")

    response = api_client.get(f"/api/people/{person.pk}/eligibility/{query}")

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["message"]


def test_eligibility_of_an_unknown_person_is_404(api_client: APIClient, source: Source) -> None:
    response = api_client.get("/api/people/999/eligibility/?survey=1")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_schema_describes_the_survey_endpoints(api_client: APIClient) -> None:
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()

    paths = schema["paths"]
    assert {"/api/surveys/", "/api/surveys/{id}/", "/api/invitations/", "/api/responses/"} <= set(paths)
    eligibility = paths["/api/people/{id}/eligibility/"]["get"]
    assert [p["name"] for p in eligibility["parameters"] if p["required"]] == ["id", "survey"]
    assert "Decision" in json.dumps(eligibility["responses"]["200"])
