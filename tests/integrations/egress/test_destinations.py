"""Destinations: URL settings that point inside are refused when saved (admin and API, a field error
naming HUB_OUTBOUND_ALLOWED_NETWORKS) and fail for good when sent; a new host needs its secrets again."""

import logging
import time
from typing import Any

import pytest
from django.test import Client
from pytest_httpserver import HTTPServer
from rest_framework.test import APIClient

from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination, Source
from tests.integrations.delivery.conftest import SECRET, destination_create, enqueue_one
from tests.integrations.egress.conftest import PUBLIC_IP, Network
from tests.sources import source_default

SETTING = "HUB_OUTBOUND_ALLOWED_NETWORKS"

# Each kind with its URL setting pointing at "{base}", and the secrets it needs.
KINDS: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "webhook": ("url", {"url": "{base}/hooks"}, {"signing_secret": SECRET}),
    "hello_customer": (
        "base_url",
        {"base_url": "{base}", "touchpoint_unique_id": "tp-1"},
        {"api_key": "hc-key-0123456789"},
    ),
    "customersuccessbox": ("base_url", {"base_url": "{base}"}, {"api_key": "csb-key-0123456789"}),
    "surveylab": ("api_link", {"api_link": "{base}/api.php?cId=12"}, {"api_token": "sl-token-0123456789"}),
    "wootric": (
        "base_url",
        {"base_url": "{base}"},
        {"username": "ops@example.com", "password": "pw-0123456789"},
    ),
    "segment": ("api_host", {"api_host": "{base}"}, {"write_key": "wk-0123456789"}),
}


def settings_for(kind: str, base: str) -> dict[str, Any]:
    return {key: value.format(base=base) for key, value in KINDS[kind][1].items()}


def api_body(kind: str, base: str) -> dict[str, Any]:
    return {
        "source": source_default().slug,
        "kind": kind,
        "name": f"{kind} destination",
        "settings": settings_for(kind, base),
        "secrets": KINDS[kind][2],
        "call_types": ["identify"],
    }


def admin_data(
    destination: Destination | None = None,
    *,
    settings: dict[str, Any] | None = None,
    secrets: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The destination form as the admin posts it: one box per setting and per secret of the kind."""
    data: dict[str, Any] = {
        "name": destination.name if destination else "A destination",
        "source": destination.source_id if destination else source_default().pk,
        "enabled": "on",
        "call_types": destination.call_types if destination else ["identify"],
        "event_names_text": "",
        "timeout_seconds": "5",
        "max_age_seconds": "14400",
    }
    settings = destination.settings if settings is None and destination else settings or {}
    data |= {f"setting_{key}": value for key, value in settings.items()}
    data |= {f"secret_{key}": value for key, value in (secrets or {}).items()}
    return data


def form_errors(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 200, "the form is shown again with its errors"
    return {field: list(errors) for field, errors in response.context["adminform"].form.errors.items()}


# --- refused when saved --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_api_refuses_a_url_setting_that_points_inside(
    api_client: APIClient, source: Source, nothing_allowed: None, kind: str
) -> None:
    key = KINDS[kind][0]

    response = api_client.post("/api/destinations/", api_body(kind, "http://169.254.169.254"), format="json")

    assert response.status_code == 400, response.json()
    (problem,) = response.json()["errors"]["settings"]
    assert f"'{key}'" in problem
    assert "169.254.169.254 is a link-local address" in problem
    assert SETTING in problem
    assert not Destination.objects.exists()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_admin_refuses_a_url_setting_that_points_inside_beside_the_settings(
    admin_client: Client, source: Source, nothing_allowed: None, kind: str
) -> None:
    key = KINDS[kind][0]
    data = admin_data(settings=settings_for(kind, "http://[fd00::1]:8080"), secrets=KINDS[kind][2])

    errors = form_errors(admin_client.post(f"/admin/integrations/destination/add/?kind={kind}", data))

    (problem,) = errors[f"setting_{key}"]
    assert f"'{key}'" in problem
    assert "fd00::1 is a private address" in problem
    assert SETTING in problem
    assert not Destination.objects.exists()


def test_a_name_that_resolves_inside_is_refused_and_one_that_does_not_resolve_is_saved(
    api_client: APIClient, network: Network, nothing_allowed: None
) -> None:
    network.answers("hooks.customer.example", ["10.0.0.7"])

    inside = api_client.post(
        "/api/destinations/", api_body("webhook", "https://localhost:8443"), format="json"
    )
    private = api_client.post(
        "/api/destinations/", api_body("webhook", "https://hooks.customer.example"), format="json"
    )
    # No DNS answer (as for every vendor's host on a machine without internet): checked at each call.
    unknown = api_client.post(
        "/api/destinations/", api_body("webhook", "https://hooks.invalid"), format="json"
    )

    assert "localhost resolves to 127.0.0.1, a loopback address" in inside.json()["errors"]["settings"][0]
    assert "resolves to 10.0.0.7, a private address" in private.json()["errors"]["settings"][0]
    assert unknown.status_code == 201, unknown.json()


def test_a_slow_resolver_does_not_hold_the_save_for_long(
    api_client: APIClient, network: Network, nothing_allowed: None
) -> None:
    network.slow("hooks.slow.example", 6.0)
    started = time.monotonic()

    response = api_client.post(
        "/api/destinations/", api_body("webhook", "https://hooks.slow.example"), format="json"
    )

    assert response.status_code == 201, response.json()
    assert time.monotonic() - started < 4.0


def test_an_allowed_network_may_be_saved(api_client: APIClient, settings: Any) -> None:
    settings.HUB_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    response = api_client.post(
        "/api/destinations/", api_body("webhook", "http://127.0.0.1:8080"), format="json"
    )
    assert response.status_code == 201, response.json()


# --- refused when sent ---------------------------------------------------------------------------


def test_a_delivery_to_a_refused_address_fails_for_good_with_the_reason(
    db: None, httpserver: HTTPServer, nothing_allowed: None
) -> None:
    destination_create(httpserver.url_for("/hooks/feedback"))  # saved by code, as before the setting
    delivery = enqueue_one()

    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 1)
    assert "localhost resolves to 127.0.0.1, a loopback address" in delivery.last_error
    assert SETTING in delivery.last_error
    assert delivery.last_exchange is not None
    assert delivery.last_exchange["url"] == httpserver.url_for("/hooks/feedback")
    assert delivery.last_exchange["error"] == delivery.last_error
    assert SECRET not in str(delivery.last_exchange)
    assert httpserver.log == []


def test_a_name_checked_when_saved_is_checked_again_when_sent(
    api_client: APIClient, network: Network, nothing_allowed: None, httpserver: HTTPServer
) -> None:
    """DNS rebinding between saving and sending: public when saved, 127.0.0.1 when called."""
    httpserver.expect_request("/hooks").respond_with_data("ok")
    network.answers("hooks.customer.example", [PUBLIC_IP])
    body = api_body("webhook", f"http://hooks.customer.example:{httpserver.port}")
    body["call_types"] = ["response.created"]
    assert api_client.post("/api/destinations/", body, format="json").status_code == 201

    network.answers("hooks.customer.example", ["127.0.0.1"])
    delivery = enqueue_one()
    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert "hooks.customer.example resolves to 127.0.0.1, a loopback address" in delivery.last_error
    assert httpserver.log == []


# --- a new host needs the secrets again ---------------------------------------------------------------


@pytest.fixture
def wootric(db: None) -> Destination:
    destination = Destination(
        source=source_default(),
        kind="wootric",
        name="Wootric",
        settings={"base_url": "https://api.wootric.com"},
        call_types=["identify"],
    )
    destination.secrets_update({"username": "ops@example.com", "password": "pw-0123456789"})
    destination.save()
    return destination


def test_the_api_refuses_a_new_host_without_the_secrets(api_client: APIClient, wootric: Destination) -> None:
    url = f"/api/destinations/{wootric.pk}/"

    refused = api_client.patch(
        url, {"settings": {"base_url": "https://wootric.attacker.example"}}, format="json"
    )

    assert refused.status_code == 400
    (problem,) = refused.json()["errors"]["secrets"]
    assert "enter password, username again with the new host" in problem
    wootric.refresh_from_db()
    assert wootric.settings == {"base_url": "https://api.wootric.com"}

    new_secrets = {"username": "eu@example.com", "password": "pw-eu-0123456789"}
    moved = api_client.patch(
        url, {"settings": {"base_url": "https://api.eu.wootric.com"}, "secrets": new_secrets}, format="json"
    )
    assert moved.status_code == 200, moved.json()
    wootric.refresh_from_db()
    assert wootric.secret_values() == new_secrets


def test_the_api_keeps_the_secrets_for_another_path_on_the_same_host(api_client: APIClient) -> None:
    webhook = destination_create("https://ops.example.com/hooks")

    response = api_client.patch(
        f"/api/destinations/{webhook.pk}/",
        {"settings": {"url": "https://OPS.example.com:443/v2/hooks"}},
        format="json",
    )

    assert response.status_code == 200, response.json()
    webhook.refresh_from_db()
    assert webhook.settings["url"] == "https://OPS.example.com:443/v2/hooks"
    assert webhook.secret_values() == {"signing_secret": SECRET}
    # Another port is another host.
    response = api_client.patch(
        f"/api/destinations/{webhook.pk}/",
        {"settings": {"url": "https://ops.example.com:8443/v2/hooks"}},
        format="json",
    )
    assert "signing_secret" in response.json()["errors"]["secrets"][0]


def test_the_admin_refuses_a_new_host_without_the_secrets_beside_them(
    admin_client: Client, wootric: Destination
) -> None:
    url = f"/admin/integrations/destination/{wootric.pk}/change/"
    moved = {"base_url": "https://api.eu.wootric.com"}

    errors = form_errors(admin_client.post(url, admin_data(wootric, settings=moved)))

    (problem,) = errors["secret_account_token"]  # the first of the secrets' boxes
    assert "enter password, username again with the new host" in problem
    wootric.refresh_from_db()
    assert wootric.settings == {"base_url": "https://api.wootric.com"}

    new_secrets = {"username": "eu@example.com", "password": "pw-eu-0123456789"}
    response = admin_client.post(url, admin_data(wootric, settings=moved, secrets=new_secrets))
    assert response.status_code == 302
    wootric.refresh_from_db()
    assert (wootric.settings, wootric.secret_values()) == (moved, new_secrets)


def test_a_new_host_saved_by_code_drops_the_secrets_it_was_not_given(
    wootric: Destination, caplog: pytest.LogCaptureFixture
) -> None:
    wootric.settings = {"base_url": "http://wootric.attacker.example"}
    wootric.secrets_update({"username": "ops@example.com"})
    with caplog.at_level(logging.WARNING):
        wootric.save()

    stored = Destination.objects.get(pk=wootric.pk)
    assert stored.secret_values() == {"username": "ops@example.com"}
    assert "password" in caplog.text
    assert "pw-0123456789" not in caplog.text

    stored.settings = {"base_url": "http://wootric.attacker.example/other/path"}
    stored.save()
    assert Destination.objects.get(pk=wootric.pk).secret_values() == {"username": "ops@example.com"}
