"""The official segment-analytics-python client, pointed at a live hub, as a customer would use it."""

from datetime import UTC, datetime
from typing import Any

import pytest
import segment.analytics.request as segment_request
from segment.analytics.client import Client

from integrations.models import InboundEvent, Source

pytestmark = pytest.mark.django_db(transaction=True)


def make_client(live_server: Any, write_key: str, **options: Any) -> tuple[Client, list[Exception]]:
    errors: list[Exception] = []
    client = Client(
        write_key,
        host=live_server.url,
        on_error=lambda error, batch: errors.append(error),
        max_retries=1,
        **options,
    )
    return client, errors


@pytest.mark.parametrize("gzip", [False, True], ids=["plain", "gzip"])
def test_every_call_of_the_official_client_is_stored(
    live_server: Any, source: Source, write_key: str, gzip: bool
) -> None:
    client, errors = make_client(live_server, write_key, gzip=gzip)
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

    client.identify("u1", {"email": "ann@example.com", "firstName": "Ann", "createdAt": created})
    client.track("u1", "Order Completed", {"total": 42.5, "currency": "EUR"})
    client.page("u1", "Docs", "Pricing", {"url": "https://example.com/pricing"})
    client.screen("u1", "App", "Home")
    client.group("u1", "acme-1", {"name": "Acme", "employees": 120})
    client.alias("anon-7", "u1")
    client.track(anonymous_id="anon-9", event="Signed Up")
    client.flush()
    client.join()

    assert errors == []
    events = {
        e.type: e
        for e in InboundEvent.objects.filter(
            source=source, type__in=["identify", "track", "page", "screen", "group", "alias"]
        ).exclude(user_id="")
    }
    assert set(events) == {"identify", "track", "page", "screen", "group", "alias"}
    identify = events["identify"].payload
    assert identify["traits"] == {
        "email": "ann@example.com",
        "firstName": "Ann",
        "createdAt": "2026-01-02T03:04:05+00:00",
    }
    assert identify["context"]["library"]["name"] == "analytics-python"
    assert events["track"].event == "Order Completed"
    assert events["track"].payload["properties"] == {"total": 42.5, "currency": "EUR"}
    assert events["page"].event == "Pricing"
    assert events["page"].payload["category"] == "Docs"
    assert events["group"].payload["groupId"] == "acme-1"
    assert events["alias"].payload["previousId"] == "anon-7"
    anonymous = InboundEvent.objects.get(anonymous_id="anon-9")
    assert anonymous.user_id == ""
    assert anonymous.event == "Signed Up"
    # The client sends sentAt; the hub computed a skew-corrected timestamp for every call.
    assert all(e.sent_at is not None and e.timestamp is not None for e in InboundEvent.objects.all())
    # Stored means processed after commit (tasks run inline in tests).
    assert set(InboundEvent.objects.values_list("status", flat=True)) == {"processed"}


def test_a_retry_of_the_same_batch_is_stored_once(live_server: Any, source: Source, write_key: str) -> None:
    message = {"type": "track", "userId": "u1", "event": "Clicked", "messageId": "same-id-1"}

    # What the client's retry loop does: the same batch again, with a new sentAt each time.
    for _ in range(3):
        response = segment_request.post(write_key, host=live_server.url, batch=[message])
        assert response.status_code == 200

    assert InboundEvent.objects.filter(message_id="same-id-1").count() == 1


def test_a_wrong_write_key_is_reported_to_the_client_as_an_api_error(
    live_server: Any, source: Source
) -> None:
    client, errors = make_client(live_server, "wrong-key-123")

    client.track("u1", "Clicked")
    client.flush()
    client.join()

    assert len(errors) == 1
    assert getattr(errors[0], "status", None) == 401
    assert getattr(errors[0], "code", None) == "invalid_write_key"
    assert not InboundEvent.objects.exists()


def test_a_batch_at_the_clients_size_limit_is_accepted(
    live_server: Any, source: Source, write_key: str
) -> None:
    client, errors = make_client(live_server, write_key, upload_size=2500)
    for i in range(104):
        # ~4.6 KB each: the client closes the batch at ~475 KB, as large as it ever sends.
        client.track("u1", "Big", {"i": i, "pad": "x" * 4_600})
    client.flush()
    client.join()

    assert errors == []
    assert InboundEvent.objects.filter(event="Big").count() == 104
