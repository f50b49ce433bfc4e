"""Who may change destinations and replay deliveries through the management API."""

from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from integrations.models import Delivery, Destination
from tests.integrations.delivery.conftest import enqueue_one
from tests.integrations.delivery.test_api import create_body

pytestmark = pytest.mark.django_db

StaffClient = Callable[..., APIClient]


def webhook_body() -> dict[str, object]:
    return create_body("https://ops.example.com/hooks")


def test_creating_a_destination_needs_add_destination(staff_api_client: StaffClient) -> None:
    reader = staff_api_client("integrations.view_destination")
    assert reader.post("/api/destinations/", webhook_body(), format="json").status_code == 403
    assert not Destination.objects.exists()

    writer = staff_api_client("integrations.view_destination", "integrations.add_destination")
    assert writer.post("/api/destinations/", webhook_body(), format="json").status_code == 201


def test_changing_a_destination_needs_change_destination(
    staff_api_client: StaffClient, api_client: APIClient
) -> None:
    destination_id = api_client.post("/api/destinations/", webhook_body(), format="json").json()["id"]
    url = f"/api/destinations/{destination_id}/"

    creator = staff_api_client("integrations.view_destination", "integrations.add_destination")
    assert creator.patch(url, {"enabled": False}, format="json").status_code == 403
    assert Destination.objects.get(pk=destination_id).enabled

    changer = staff_api_client("integrations.view_destination", "integrations.change_destination")
    assert changer.patch(url, {"enabled": False}, format="json").status_code == 200
    assert not Destination.objects.get(pk=destination_id).enabled


def test_replaying_a_delivery_needs_change_delivery(
    staff_api_client: StaffClient, webhook: Destination
) -> None:
    delivery = enqueue_one()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.DEAD)

    reader = staff_api_client("integrations.view_delivery")
    assert reader.post(f"/api/deliveries/{delivery.pk}/replay/").status_code == 403
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DEAD

    replayer = staff_api_client("integrations.view_delivery", "integrations.change_delivery")
    assert replayer.post(f"/api/deliveries/{delivery.pk}/replay/").status_code == 200
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
