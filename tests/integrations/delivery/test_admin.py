"""The admin as the delivery console: masked secrets, send test, deliveries with their exchange, replay."""

import re

from django.test import Client
from pytest_httpserver import HTTPServer

from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination, Source
from tests.integrations.delivery.conftest import SECRET, enqueue_one


def test_secrets_are_never_shown_in_the_destination_pages(admin_client: Client, webhook: Destination) -> None:
    listing = admin_client.get("/admin/integrations/destination/").content.decode()
    change = admin_client.get(f"/admin/integrations/destination/{webhook.pk}/change/").content.decode()

    for html in (listing, change):
        assert SECRET not in html
        assert SECRET.removeprefix("whsec_") not in html
    assert "signing_secret ••••" in listing
    assert re.search(r'<input type="password" name="secret_signing_secret"[^>]*>', change)
    assert "Leave empty to keep the stored one." in change


def test_a_destination_is_added_in_the_admin_by_choosing_its_kind_first(
    admin_client: Client, source: Source
) -> None:
    choice = admin_client.get("/admin/integrations/destination/add/").content.decode()
    assert '<a class="button" href="?kind=webhook">Webhook (signed, Standard Webhooks)</a>' in choice
    assert "<form" not in choice.split('id="content-main"')[1]  # nothing to fill in before the kind

    response = admin_client.post(
        "/admin/integrations/destination/add/?kind=webhook",
        {
            "name": "Ops webhook",
            "source": source.pk,
            "enabled": "on",
            "setting_url": "https://ops.example.com/hooks",
            "setting_headers": "X-Team: ops\n",
            "secret_signing_secret": SECRET,
            "call_types": ["response.created", "track"],
            "event_names_text": "Order Completed\n",
            "timeout_seconds": "5",
            "max_age_seconds": "14400",
        },
    )

    assert response.status_code == 302, response.content.decode()[-3000:]
    destination = Destination.objects.get()
    assert (destination.kind, destination.source) == ("webhook", source)
    assert destination.settings == {"url": "https://ops.example.com/hooks", "headers": {"X-Team": "ops"}}
    assert destination.secret_values() == {"signing_secret": SECRET}
    assert destination.call_types == ["response.created", "track"]
    assert destination.event_names == ["Order Completed"]


def test_send_test_shows_the_http_exchange_with_secrets_masked(
    admin_client: Client, webhook: Destination, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hooks/feedback").respond_with_json({"received": True})
    webhook.settings = {**webhook.settings, "headers": {"Authorization": "Bearer tok-secret-0123456789"}}
    webhook.secrets_update({"api_token": "tok-secret-0123456789"})
    webhook.save()

    response = admin_client.post(
        "/admin/integrations/destination/", {"action": "send_test", "_selected_action": [webhook.pk]}
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "POST " + httpserver.url_for("/hooks/feedback") in html
    assert "webhook-signature: v1," in html
    assert "HTTP 200" in html
    assert "&quot;received&quot;: true" in html
    assert "hub.test" in html
    assert "tok-secret-0123456789" not in html
    assert SECRET not in html
    ((request, _),) = httpserver.log
    assert request.headers["webhook-id"].startswith("test_")
    assert not Delivery.objects.exists(), "a test is not a delivery"


def test_deliveries_are_filtered_and_shown_with_request_and_response(
    admin_client: Client, webhook: Destination, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hooks/feedback").respond_with_json({"error": "score missing"}, status=422)
    delivery = enqueue_one("r-9")
    deliveries_deliver_due()

    listing = admin_client.get(
        f"/admin/integrations/delivery/?destination__id__exact={webhook.pk}&status=failed"
    )
    assert listing.status_code == 200
    assert f"/admin/integrations/delivery/{delivery.pk}/change/" in listing.content.decode()
    empty = admin_client.get("/admin/integrations/delivery/?status=dead")
    assert f"/admin/integrations/delivery/{delivery.pk}/change/" not in empty.content.decode()

    page = admin_client.get(f"/admin/integrations/delivery/{delivery.pk}/change/").content.decode()
    assert "webhook-id: r-9" in page
    assert "HTTP 422" in page
    assert "&quot;error&quot;: &quot;score missing&quot;" in page
    assert SECRET not in page


def test_replay_actions(admin_client: Client, webhook: Destination, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hooks/feedback").respond_with_data("bad", status=400)
    first, second = enqueue_one("r-1"), enqueue_one("r-2")
    deliveries_deliver_due()
    Delivery.objects.filter(pk=second.pk).update(status=Delivery.Status.DEAD)

    admin_client.post("/admin/integrations/delivery/", {"action": "replay", "_selected_action": [first.pk]})
    first.refresh_from_db()
    assert first.status == Delivery.Status.PENDING

    admin_client.post(
        "/admin/integrations/destination/", {"action": "replay_dead", "_selected_action": [webhook.pk]}
    )
    second.refresh_from_db()
    assert second.status == Delivery.Status.PENDING
