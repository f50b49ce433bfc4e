"""Query parameters pass through the one cleaner before any view reads them: a U+0000 in a filter
of the admin or the API, or in a survey link, is never sent to PostgreSQL (which answered 500)."""

from typing import Any

import pytest
from django.test import Client

from integrations.models import Source
from tests.surveys.factories import survey_make

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url",
    [
        "/admin/integrations/inboundevent/?status=a%00b",
        "/admin/integrations/inboundevent/?q=a%00b",
        "/admin/customers/person/?q=%00&o=%C2%B2",
        "/admin/surveys/invitation/?status=%00",
        "/admin/integrations/delivery/?status=x%00",
    ],
)
def test_a_nul_in_an_admin_filter_is_no_500(admin_client: Client, source: Source, url: str) -> None:
    assert admin_client.get(url).status_code in (200, 302)


def test_a_nul_in_an_api_filter_finds_nothing(api_client: Any, source: Source) -> None:
    survey_make()

    response = api_client.get("/api/surveys/", {"slug": "onboarding\x00"})

    assert response.status_code == 200
    assert response.json()["results"] == []
