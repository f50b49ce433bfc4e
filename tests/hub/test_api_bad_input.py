"""The management API answers bad input with 400 (or 404) and {"code", "message"}, never 500.

Each case here once answered 500 (HTML) on PostgreSQL, SQLite or both.
"""

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from customers.models import Person
from integrations.models import Source
from surveys.models import Survey
from tests.surveys.factories import survey_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey(source: Source) -> Survey:
    return survey_make()


def error(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["code"], str)
    assert isinstance(body["message"], str)
    return body


@pytest.mark.parametrize(
    "since",
    [
        "2026-01-01T00:00:00-17:18",  # an offset PostgreSQL cannot store
        "0001-01-01T00:00:00+14:00",  # the year 0 in UTC
        "9999-12-31T23:59:59-14:00",
        "yesterday",
    ],
)
def test_a_since_the_hub_cannot_hold_is_400(api_client: APIClient, since: str) -> None:
    body = error(api_client.get("/api/responses/", {"since": since}), 400)
    assert "since" in body["errors"]


def test_a_since_with_an_offset_is_read_in_utc(api_client: APIClient) -> None:
    assert api_client.get("/api/responses/", {"since": "2026-01-01T09:00:00+14:00"}).status_code == 200


@pytest.mark.parametrize("path", ["/api/invitations/", "/api/responses/", "/api/collectors/"])
@pytest.mark.parametrize("ref", ["²", "\u0661", "99999999999999999999"])
def test_a_survey_filter_that_names_no_survey_finds_nothing(
    api_client: APIClient, survey: Survey, path: str, ref: str
) -> None:
    response = api_client.get(path, {"survey": ref})

    assert response.status_code == 200, response.content
    assert response.json()["results"] == []


@pytest.mark.parametrize("ref", ["²", "on\x00boarding", "99999999999999999999"])
def test_eligibility_for_a_survey_that_does_not_exist_is_400(
    api_client: APIClient, source: Source, survey: Survey, ref: str
) -> None:
    person = Person.objects.create(source=source, user_id="u1", email="ann@example.com")

    body = error(api_client.get(f"/api/people/{person.pk}/eligibility/", {"survey": ref}), 400)

    assert body["code"] == "survey_unknown"


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/surveys/", {"name": "S", "triggers": [{"source": "web\x00app"}]}, "triggers[0].source"),
        ("/api/collectors/", {"survey": "on\x00boarding", "name": "c"}, "survey"),
        ("/api/destinations/", {"kind": "webhook", "name": "d", "mapping_set": "m\x00"}, "mapping_set"),
        ("/api/surveys/", {"name": "S", "triggers": [{"conditions": [{"value": "\x00"}]}]}, "conditions"),
        ("/api/destinations/", {"kind": "webhook", "name": "d", "settings": {"k\x00": 1}}, "settings"),
    ],
)
def test_a_nul_anywhere_in_a_json_body_is_400_naming_the_field(
    api_client: APIClient, survey: Survey, path: str, body: dict[str, Any], field: str
) -> None:
    answer = error(api_client.post(path, json.dumps(body), content_type="application/json"), 400)

    assert answer["code"] == "parse_error"
    assert field in answer["message"]


def test_a_nul_in_a_form_body_is_400(api_client: APIClient, survey: Survey) -> None:
    response = api_client.post("/api/collectors/", {"survey": "on\x00boarding", "name": "c"})

    assert error(response, 400)["code"] == "parse_error"


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": "S", "template": {"footer": "' + "[" * 2000 + '"}}',  # only text: fine
        '{"name": "S", "template": {"tags": ' + "[" * 1000 + "]" * 1000 + "}}",
        '{"name": "S\\ud800"}',  # a lone surrogate: not UTF-8
        '{"name": "S", "min_delay_days": NaN}',
    ],
)
def test_deep_or_unencodable_json_is_400_not_a_recursion_or_encoding_error(
    api_client: APIClient, source: Source, raw: str
) -> None:
    response = api_client.post("/api/surveys/", raw, content_type="application/json")

    if '"footer"' in raw:
        assert response.status_code == 201, response.content
    else:
        assert error(response, 400)["code"] == "parse_error"


@pytest.mark.parametrize("value", ["25:00", "nine", "9"])
def test_a_send_window_time_out_of_range_is_400(api_client: APIClient, survey: Survey, value: str) -> None:
    response = api_client.patch(f"/api/surveys/{survey.pk}/", {"send_window_start": value}, format="json")

    assert "send_window_start" in error(response, 400)["errors"]


@pytest.mark.parametrize(
    "path", ["/api/surveys/1.5/", "/api/people/null,null/eligibility/", "/api/nothing/", "/api/people/x/y/"]
)
@pytest.mark.parametrize("method", ["get", "patch", "post"])
def test_an_address_no_route_takes_is_a_json_404(api_client: APIClient, path: str, method: str) -> None:
    assert error(getattr(api_client, method)(path), 404)["code"] == "not_found"
