"""Destination secrets: encrypted at rest, masked in every recorded exchange."""

from django.db import connection
from pytest_httpserver import HTTPServer

from hub.crypto import decrypt
from integrations.delivery_loop import deliveries_deliver_due
from integrations.http import MASK
from integrations.models import Delivery, Destination
from tests.integrations.delivery.conftest import SECRET, destination_create, enqueue_one


def raw_secrets_column(destination: Destination) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM integrations_destination WHERE id = %s", [destination.pk])
        return str(cursor.fetchone()[0])


def test_secrets_are_encrypted_at_rest(webhook: Destination) -> None:
    raw = raw_secrets_column(webhook)

    assert SECRET not in raw
    assert SECRET.removeprefix("whsec_") not in raw
    assert "signing_secret" not in raw, "even the key names are inside the ciphertext"
    assert SECRET in decrypt(raw)
    assert Destination.objects.get(pk=webhook.pk).secret_values() == {"signing_secret": SECRET}


def test_secrets_update_keeps_other_keys_and_removes_empty_ones(webhook: Destination) -> None:
    webhook.secrets_update({"api_key": "k-123456"})
    webhook.save()
    assert webhook.secret_values() == {"signing_secret": SECRET, "api_key": "k-123456"}
    webhook.secrets_update({"api_key": None})
    assert webhook.secret_values() == {"signing_secret": SECRET}


def test_a_secret_in_a_header_or_url_is_masked_in_the_recorded_exchange(
    db: None, httpserver: HTTPServer
) -> None:
    token = "tok_live_4f7c2a9b1e"
    httpserver.expect_request("/hooks").respond_with_data(f"echo {token}", status=500)
    destination = destination_create(
        httpserver.url_for(f"/hooks?token={token}"),
        settings={"headers": {"Authorization": f"Bearer {token}", "X-Team": f"ops-{token}"}},
    )
    destination.secrets_update({"api_token": token})
    destination.save()
    delivery = enqueue_one()

    deliveries_deliver_due()

    delivery = Delivery.objects.get(pk=delivery.pk)
    assert token not in str(delivery.last_exchange)
    assert token not in delivery.last_error + delivery.last_response_excerpt
    assert delivery.last_exchange is not None
    assert delivery.last_exchange["request_headers"]["Authorization"] == MASK
    assert delivery.last_exchange["request_headers"]["X-Team"] == f"ops-{MASK}"
    ((request, _),) = httpserver.log
    assert request.headers["Authorization"] == f"Bearer {token}", "masking is for the record, not the wire"
