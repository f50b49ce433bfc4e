"""Who may do what in the management API (integrations): Django's model permissions, staff only."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

StaffClient = Callable[..., APIClient]


@pytest.mark.parametrize(
    ("url", "permission"),
    [
        ("/api/sources/", "integrations.view_source"),
        ("/api/events/", "integrations.view_inboundevent"),
        ("/api/destinations/", "integrations.view_destination"),
        ("/api/deliveries/", "integrations.view_delivery"),
    ],
)
def test_reading_needs_the_view_permission(staff_api_client: StaffClient, url: str, permission: str) -> None:
    refused = staff_api_client().get(url)
    assert refused.status_code == 403
    assert refused.json()["code"] == "permission_denied"

    assert staff_api_client(permission).get(url).status_code == 200


def test_a_superuser_that_is_not_staff_is_refused(django_user_model: object) -> None:
    from tests.conftest import token_client

    user = django_user_model.objects.create_user(  # type: ignore[attr-defined]
        username="root-not-staff", password="pw-root-123", is_superuser=True, is_staff=False
    )
    assert token_client(user).get("/api/sources/").status_code == 403
