"""Who may read people and accounts through the management API."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from customers.models import Person
from tests.customers.test_api_and_admin import people

pytestmark = pytest.mark.django_db

StaffClient = Callable[..., APIClient]
__all__ = ["people"]  # the fixture


@pytest.mark.parametrize(
    ("url", "permission"),
    [("/api/people/", "customers.view_person"), ("/api/accounts/", "customers.view_account")],
)
def test_reading_needs_the_view_permission(staff_api_client: StaffClient, url: str, permission: str) -> None:
    refused = staff_api_client().get(url)
    assert refused.status_code == 403
    assert refused.json() == {
        "code": "permission_denied",
        "message": "You do not have permission to perform this action.",
    }

    assert staff_api_client(permission).get(url).status_code == 200


def test_a_person_is_not_visible_without_view_person(staff_api_client: StaffClient, people: None) -> None:
    person = Person.objects.get(user_id="u-camel")
    assert staff_api_client("customers.view_account").get(f"/api/people/{person.pk}/").status_code == 403


def test_a_persons_calls_are_shown_only_with_view_inboundevent(
    staff_api_client: StaffClient, people: None
) -> None:
    person = Person.objects.get(user_id="u-camel")
    url = f"/api/people/{person.pk}/"

    without = staff_api_client("customers.view_person").get(url).json()
    with_events = staff_api_client("customers.view_person", "integrations.view_inboundevent").get(url).json()

    assert without["recent_events"] == []
    assert [e["event"] for e in with_events["recent_events"]][:1] == ["Order Completed"]
