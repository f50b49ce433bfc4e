"""The management API: token auth, sources, the event log with filters, the OpenAPI schema."""

import json
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from integrations.models import InboundEvent, Source
from integrations.services import source_create

pytestmark = pytest.mark.django_db


def ingest(client: Client, key: str, events: list[dict[str, Any]]) -> None:
    response = client.post(
        "/v1/batch", json.dumps({"batch": events, "writeKey": key}), content_type="application/json"
    )
    assert response.status_code == 200


def test_sources_are_listed_with_masked_keys_only(
    api_client: APIClient, source: Source, write_key: str
) -> None:
    response = api_client.get("/api/sources/")

    assert response.status_code == 200
    [item] = response.json()["results"]
    assert item["slug"] == "web-app"
    assert item["write_keys"][0]["hint"] == f"{write_key[:4]}…{write_key[-4:]}"
    assert write_key not in response.content.decode()


def test_events_are_filtered_by_source_type_status_message_and_user(
    api_client: APIClient, client: Client, write_key: str
) -> None:
    _, other_key = source_create(name="Mobile", slug="mobile")
    ingest(
        client,
        write_key,
        [
            {"type": "identify", "userId": "ann", "messageId": "m-1"},
            {"type": "track", "userId": "ann", "event": "Clicked", "messageId": "m-2"},
            {"type": "track", "userId": "bob", "messageId": "m-3"},
        ],
    )
    ingest(client, other_key, [{"type": "track", "userId": "ann", "event": "Opened", "messageId": "m-4"}])

    def ids(query: str) -> list[str]:
        response = api_client.get(f"/api/events/?{query}")
        assert response.status_code == 200
        return sorted(e["message_id"] for e in response.json()["results"])

    assert ids("") == ["m-1", "m-2", "m-3", "m-4"]
    assert ids("source=mobile") == ["m-4"]
    assert ids("type=track&source=web-app") == ["m-2", "m-3"]
    assert ids("status=rejected") == ["m-3"]
    assert ids("message_id=m-2") == ["m-2"]
    assert ids("user_id=ann") == ["m-1", "m-2", "m-4"]
    rejected = api_client.get("/api/events/?status=rejected").json()["results"][0]
    assert rejected["reason"] == "track needs an event name"
    assert rejected["source"] == "web-app"


def test_events_are_paginated_newest_first(api_client: APIClient, client: Client, write_key: str) -> None:
    ingest(
        client,
        write_key,
        [{"type": "track", "userId": "u", "event": "E", "messageId": f"p-{i}"} for i in range(7)],
    )

    first = api_client.get("/api/events/?page_size=5").json()
    second = api_client.get(first["next"]).json()

    assert [e["message_id"] for e in first["results"]] == ["p-6", "p-5", "p-4", "p-3", "p-2"]
    assert [e["message_id"] for e in second["results"]] == ["p-1", "p-0"]
    assert second["next"] is None


def test_one_event_shows_its_payload(api_client: APIClient, client: Client, write_key: str) -> None:
    ingest(client, write_key, [{"type": "identify", "userId": "ann", "traits": {"plan": "pro"}}])
    event = InboundEvent.objects.get()

    body = api_client.get(f"/api/events/{event.pk}/").json()

    assert body["payload"]["traits"] == {"plan": "pro"}
    assert body["status"] == "accepted"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"HTTP_AUTHORIZATION": "Token not-a-token"}, 401)],
)
def test_the_api_needs_a_token(client: Client, headers: dict[str, str], status: int) -> None:
    response = client.get("/api/events/", **headers)  # type: ignore[arg-type]
    assert response.status_code == status
    assert set(response.json()) == {"code", "message"}


def test_a_token_of_a_non_staff_user_is_refused(django_user_model: Any) -> None:
    from rest_framework.authtoken.models import Token

    user = django_user_model.objects.create_user(username="customer", password="pw-123-customer")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")

    response = client.get("/api/sources/")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_a_bad_filter_value_is_a_400_with_code_and_message(api_client: APIClient) -> None:
    response = api_client.get("/api/events/?status=exploded")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "status" in response.json()["errors"]


def test_the_openapi_schema_describes_the_api(api_client: APIClient) -> None:
    response = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    assert response.status_code == 200
    schema = response.json()
    assert {"/api/sources/", "/api/events/", "/api/events/{id}/"} <= set(schema["paths"])
    parameters = {p["name"] for p in schema["paths"]["/api/events/"]["get"]["parameters"]}
    assert {"source", "type", "status", "message_id", "user_id", "cursor"} <= parameters


@pytest.mark.parametrize("url", ["/api/schema/", "/api/docs/"])
def test_the_schema_and_the_docs_need_a_staff_login(
    client: Client, django_user_model: Any, staff_user: Any, url: str
) -> None:
    anonymous = client.get(url)
    assert anonymous.status_code in (302, 401, 403)
    assert b"openapi" not in anonymous.content.lower()
    if anonymous.status_code == 302:
        assert anonymous["Location"].startswith("/admin/login/")

    customer = django_user_model.objects.create_user(username="customer", password="pw-123-customer")
    client.force_login(customer)
    assert client.get(url).status_code in (302, 403)

    client.force_login(staff_user)
    assert client.get(url).status_code == 200


def test_the_schema_is_served_to_a_staff_token(staff_api_client: Any) -> None:
    response = staff_api_client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert "/api/people/" in response.json()["paths"]


def test_an_unknown_object_is_404_with_code_not_found(api_client: APIClient) -> None:
    response = api_client.get("/api/events/999999/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_openapi_schema_generates_without_warnings() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("spectacular", "--fail-on-warn", "--validate", stdout=out)
    assert "openapi: 3" in out.getvalue()
