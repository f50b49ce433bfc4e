"""The management API of destinations and deliveries: secrets are write-only."""

import base64
from typing import Any

from django.db import connection
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from hub.crypto import decrypt
from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination
from tests.integrations.delivery.conftest import SECRET, enqueue_one
from tests.sources import source_default


def create_body(url: str, **extra: Any) -> dict[str, Any]:
    return {
        "source": source_default().slug,
        "kind": "webhook",
        "name": "Ops webhook",
        "settings": {"url": url},
        "secrets": {"signing_secret": SECRET},
        "call_types": ["response.created"],
        **extra,
    }


def test_a_destination_is_created_with_write_only_secrets(api_client: APIClient) -> None:
    response = api_client.post(
        "/api/destinations/", create_body("https://ops.example.com/hooks"), format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert "secrets" not in body
    assert body["secret_keys"] == ["signing_secret"]
    assert SECRET not in response.content.decode()
    destination = Destination.objects.get(pk=body["id"])
    assert body["source"] == destination.source.slug == "web-app"
    assert destination.secret_values() == {"signing_secret": SECRET}
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM integrations_destination WHERE id = %s", [destination.pk])
        raw = cursor.fetchone()[0]
    assert SECRET not in raw
    assert SECRET in decrypt(raw)

    listed = api_client.get("/api/destinations/")
    detail = api_client.get(f"/api/destinations/{destination.pk}/")
    for page in (listed, detail):
        assert page.status_code == 200
        assert SECRET not in page.content.decode()
        assert SECRET.removeprefix("whsec_") not in page.content.decode()


def test_patch_sets_named_secrets_and_keeps_them(api_client: APIClient, webhook: Destination) -> None:
    other = "whsec_" + base64.b64encode(b"fedcba9876543210fedcba9876543210").decode()
    response = api_client.patch(
        f"/api/destinations/{webhook.pk}/", {"secrets": {"signing_secret": other}}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["secret_keys"] == ["signing_secret"]
    assert other not in response.content.decode()

    response = api_client.patch(f"/api/destinations/{webhook.pk}/", {"enabled": False}, format="json")
    assert response.status_code == 200
    webhook.refresh_from_db()
    assert webhook.enabled is False
    assert webhook.secret_values() == {"signing_secret": other}

    # A name the kind does not take is refused, not kept unused.
    response = api_client.patch(
        f"/api/destinations/{webhook.pk}/", {"secrets": {"api_key": "key-0123456789"}}, format="json"
    )
    assert response.status_code == 400
    assert "'api_key' is not a secret of this kind" in response.json()["errors"]["secrets"][0]


def test_an_unusable_configuration_is_refused_with_the_reasons(api_client: APIClient) -> None:
    body = create_body("ftp://ops.example.com", secrets={"signing_secret": "not-a-whsec-secret!"})
    response = api_client.post("/api/destinations/", body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    errors = response.json()["errors"]
    assert "'url' must start with https://" in " ".join(errors["settings"])
    assert "Standard Webhooks secret" in " ".join(errors["secrets"])
    assert not Destination.objects.exists()

    response = api_client.post(
        "/api/destinations/", create_body("https://x", kind="carrier-pigeon"), format="json"
    )
    assert response.status_code == 400
    assert "kind" in response.json()["errors"]


def test_deliveries_are_listed_filtered_and_replayed(
    api_client: APIClient,
    webhook: Destination,
    httpserver: HTTPServer,
    django_capture_on_commit_callbacks: Any,
) -> None:
    httpserver.expect_request("/hooks/feedback").respond_with_data("gone", status=410)
    failed = enqueue_one("r-1")
    enqueue_one("r-2")
    deliveries_deliver_due(limit=1)

    response = api_client.get(f"/api/deliveries/?destination={webhook.pk}&status=failed")
    assert response.status_code == 200
    assert [d["id"] for d in response.json()["results"]] == [failed.pk]
    assert response.json()["results"][0]["last_http_status"] == 410
    assert len(api_client.get("/api/deliveries/?status=pending").json()["results"]) == 1

    httpserver.clear()
    httpserver.expect_request("/hooks/feedback").respond_with_data("ok")
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(f"/api/deliveries/{failed.pk}/replay/")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "pending"
    failed.refresh_from_db()
    assert failed.status == Delivery.Status.DELIVERED, "the replay is sent right after commit"
    ((request, _),) = httpserver.log
    assert request.headers["webhook-id"] == "r-1"


def test_replaying_a_pending_delivery_is_a_conflict(api_client: APIClient, webhook: Destination) -> None:
    delivery = enqueue_one()
    response = api_client.post(f"/api/deliveries/{delivery.pk}/replay/")
    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_a_destination_belongs_to_a_source_given_by_slug(api_client: APIClient) -> None:
    without = {k: v for k, v in create_body("https://ops.example.com/hooks").items() if k != "source"}
    unknown = create_body("https://ops.example.com/hooks", source="no-such-source")

    missing = api_client.post("/api/destinations/", without, format="json")
    wrong = api_client.post("/api/destinations/", unknown, format="json")

    assert (missing.status_code, wrong.status_code) == (400, 400)
    assert "source" in missing.json()["errors"]
    assert "source" in wrong.json()["errors"]
    assert not Destination.objects.exists()
    listed = api_client.get("/api/destinations/?source=web-app").json()
    assert listed["count"] == 0
