"""A destination without a secret its settings schema requires (e.g. dropped when its host changed)
never calls the vendor: each delivery fails at once, naming the secret. The schema says which
secrets a kind needs; the engine checks them before every call, for every connector."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from pytest_httpserver import HTTPServer

from integrations.base import BaseConnector, SettingsSchema
from integrations.delivery_loop import deliveries_deliver_due
from integrations.http import HttpClient, HttpExchange
from integrations.models import Delivery, Destination
from integrations.registry import CONNECTORS, connector_get
from tests.sources import source_default


class KeylessConnector(BaseConnector):
    """A connector that trusts its schema: it does not check its secret itself."""

    kind = "keyless"
    label = "Keyless"
    settings_schema = SettingsSchema(required=("url",), secrets=("api_key",), urls=("url",))

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange:
        key = destination.secret_values().get("api_key", "")
        return client.request("POST", destination.settings["url"], json=payload, headers={"X-Key": key})


@pytest.fixture
def keyless_kind(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setitem(CONNECTORS, KeylessConnector.kind, f"{__name__}.KeylessConnector")
    connector_get.cache_clear()
    yield
    connector_get.cache_clear()


def _delivery_without_secrets(kind: str, url: str) -> Delivery:
    settings = {"url": url, "base_url": url, "api_host": url, "api_link": f"{url}?cId=1"}
    destination = Destination.objects.create(
        source=source_default(), kind=kind, name=kind, settings={**settings, "touchpoint_unique_id": "t"}
    )
    payload = {"type": "user", "action": "turnOnCollector", "batch": [], "campaign_UniqueID": "c"}
    return Delivery.objects.create(
        destination=destination,
        event_type="identify",
        idempotency_key="k",
        payload=payload,
        retry_until=timezone.now() + timedelta(hours=1),
    )


def _secret_kinds() -> list[str]:
    return [kind for kind in CONNECTORS if connector_get(kind).settings_schema.secrets]


@pytest.mark.parametrize("kind", [*_secret_kinds(), KeylessConnector.kind])
def test_a_delivery_without_a_required_secret_fails_at_once_without_a_call(
    db: None, keyless_kind: None, httpserver: HTTPServer, kind: str
) -> None:
    httpserver.expect_request("/").respond_with_data("ok")
    delivery = _delivery_without_secrets(kind, httpserver.url_for("/"))
    secret = connector_get(kind).settings_schema.secrets[0]

    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Delivery.Status.FAILED, 1)
    assert delivery.last_error == f"The destination has no {secret}."
    assert httpserver.log == []
