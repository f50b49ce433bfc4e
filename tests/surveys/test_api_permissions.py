"""Who may read and change surveys, invitations, responses and collectors through the management API."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from customers.models import Person
from integrations.models import Source
from surveys.models import Collector, Survey

pytestmark = pytest.mark.django_db

StaffClient = Callable[..., APIClient]


@pytest.fixture
def survey(db: None) -> Survey:
    return Survey.objects.create(name="Checkout NPS", slug="checkout-nps")


@pytest.mark.parametrize(
    ("url", "permission"),
    [
        ("/api/surveys/", "surveys.view_survey"),
        ("/api/invitations/", "surveys.view_invitation"),
        ("/api/responses/", "surveys.view_response"),
        ("/api/collectors/", "surveys.view_collector"),
    ],
)
def test_reading_needs_the_view_permission(staff_api_client: StaffClient, url: str, permission: str) -> None:
    refused = staff_api_client().get(url)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"

    assert staff_api_client(permission).get(url).status_code == 200


def test_creating_and_changing_a_survey_need_add_and_change(staff_api_client: StaffClient) -> None:
    reader = staff_api_client("surveys.view_survey")
    assert reader.post("/api/surveys/", {"name": "Onboarding"}, format="json").status_code == 403
    assert not Survey.objects.exists()

    adder = staff_api_client("surveys.view_survey", "surveys.add_survey")
    created = adder.post("/api/surveys/", {"name": "Onboarding"}, format="json")
    assert created.status_code == 201
    url = f"/api/surveys/{created.json()['id']}/"
    assert adder.patch(url, {"name": "Renamed"}, format="json").status_code == 403

    changer = staff_api_client("surveys.view_survey", "surveys.change_survey")
    assert changer.patch(url, {"name": "Renamed"}, format="json").status_code == 200
    assert Survey.objects.get().name == "Renamed"


def test_creating_and_changing_a_collector_need_add_and_change(
    staff_api_client: StaffClient, survey: Survey
) -> None:
    body = {"survey": survey.slug, "name": "Intercom: closed chats"}
    reader = staff_api_client("surveys.view_collector")
    assert reader.post("/api/collectors/", body, format="json").status_code == 403

    adder = staff_api_client("surveys.view_collector", "surveys.add_collector")
    created = adder.post("/api/collectors/", body, format="json")
    assert created.status_code == 201
    url = f"/api/collectors/{created.json()['id']}/"
    assert adder.patch(url, {"enabled": False}, format="json").status_code == 403
    assert Collector.objects.get().enabled

    changer = staff_api_client("surveys.view_collector", "surveys.change_collector")
    assert changer.patch(url, {"enabled": False}, format="json").status_code == 200
    assert not Collector.objects.get().enabled


@pytest.mark.parametrize(
    ("permissions", "status"),
    [
        ((), 403),
        (("surveys.view_survey",), 403),
        (("customers.view_person",), 403),
        (("surveys.view_survey", "customers.view_person"), 200),
    ],
)
def test_why_not_surveyed_needs_to_see_the_person_and_the_survey(
    staff_api_client: StaffClient, survey: Survey, permissions: tuple[str, ...], status: int
) -> None:
    source = Source.objects.create(name="Web", slug="web")
    person = Person.objects.create(source=source, user_id="u-1", email="ann@example.com")

    response = staff_api_client(*permissions).get(
        f"/api/people/{person.pk}/eligibility/?survey={survey.slug}"
    )

    assert response.status_code == status
