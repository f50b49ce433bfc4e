"""The Segment HTTP Tracking API as raw HTTP callers (webhooks, curl, other SDKs) use it."""

import base64
import gzip
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import OperationalError
from django.test import Client

from integrations.models import InboundEvent, Source
from integrations.services import source_create
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db


def basic(key: str, colon: bool = True) -> str:
    return "Basic " + base64.b64encode(f"{key}{':' if colon else ''}".encode()).decode()


def post(client: Client, path: str, body: Any, key: str | None = None, **headers: Any) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    if key is not None:
        headers.setdefault("HTTP_AUTHORIZATION", basic(key))
    return client.generic("POST", path, data, content_type="application/json", **headers)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / "segment" / f"{name}.json").read_text())


def test_batch_with_basic_auth_is_stored_and_answered_exactly_200_success(
    client: Client, write_key: str
) -> None:
    response = post(client, "/v1/batch", fixture("batch__python_client"), key=write_key)

    assert response.status_code == 200
    assert response.content == b'{"success":true}'
    events = {e.type: e for e in InboundEvent.objects.all()}
    assert events["identify"].user_id == "u1"
    assert events["identify"].status == InboundEvent.Status.ACCEPTED
    assert events["identify"].payload["traits"]["email"] == "jake@yahoo.com"
    assert events["track"].event == "Song Played"
    assert events["track"].message_id == "0b6c6f59-1b2e-4c1a-9d8b-5d0f8f7e1a02"
    assert "writeKey" not in events["track"].payload


@pytest.mark.parametrize(
    "auth",
    [
        pytest.param(lambda key: {"HTTP_AUTHORIZATION": basic(key)}, id="basic"),
        pytest.param(lambda key: {"HTTP_AUTHORIZATION": basic(key, colon=False)}, id="basic-without-colon"),
        pytest.param(lambda key: {"body": key}, id="body-writeKey"),
        pytest.param(
            lambda key: {"body": key, "HTTP_AUTHORIZATION": "Bearer eyJhbGciOi.jwt.sig"}, id="bearer+body"
        ),
        pytest.param(
            lambda key: {"body": key, "HTTP_AUTHORIZATION": "Basic %%%not-base64"}, id="bad-basic+body"
        ),
    ],
)
def test_every_segment_auth_style_is_accepted(client: Client, write_key: str, auth: Any) -> None:
    headers = auth(write_key)
    body: dict[str, Any] = {"userId": "u1", "traits": {"plan": "pro"}}
    if "body" in headers:
        body["writeKey"] = headers.pop("body")

    response = post(client, "/v1/identify", body, **headers)

    assert response.status_code == 200, response.content
    assert InboundEvent.objects.get().payload["traits"] == {"plan": "pro"}


@pytest.mark.parametrize("path", ["/v1/batch", "/v1/batch/", "/v1/import", "/v1/import/"])
def test_batch_and_import_routes_with_and_without_slash(client: Client, write_key: str, path: str) -> None:
    response = post(client, path, {"batch": [{"type": "track", "userId": "u", "event": "E"}]}, key=write_key)
    assert response.status_code == 200
    assert InboundEvent.objects.filter(type="track").count() == 1


@pytest.mark.parametrize(
    ("call_type", "body"),
    [
        ("identify", {"userId": "u1", "traits": {"email": "a@example.com"}}),
        ("track", {"userId": "u1", "event": "Order Completed", "properties": {"total": 10}}),
        ("page", {"anonymousId": "a1", "name": "Pricing", "properties": {"url": "https://x.test/pricing"}}),
        ("screen", {"userId": "u1", "name": "Home"}),
        ("group", {"userId": "u1", "groupId": "acme", "traits": {"name": "Acme"}}),
        ("alias", {"previousId": "a1", "userId": "u1"}),
    ],
)
def test_single_call_endpoints_store_their_type(
    client: Client, write_key: str, call_type: str, body: dict[str, Any]
) -> None:
    response = post(client, f"/v1/{call_type}", body, key=write_key)

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.type == call_type
    assert event.payload["type"] == call_type
    assert event.status == InboundEvent.Status.ACCEPTED


@pytest.mark.parametrize(
    ("headers", "body_key"),
    [
        ({"HTTP_AUTHORIZATION": basic("not-a-key")}, None),
        ({}, "not-a-key"),
        ({}, None),
        ({"HTTP_AUTHORIZATION": "Bearer only-a-token"}, None),
    ],
)
def test_unknown_or_missing_write_key_is_401_json(
    client: Client, write_key: str, headers: dict[str, str], body_key: str | None
) -> None:
    body: dict[str, Any] = {"userId": "u1"}
    if body_key:
        body["writeKey"] = body_key
    response = post(client, "/v1/identify", body, **headers)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_write_key"
    assert response.json()["message"]
    assert not InboundEvent.objects.exists()


def test_disabled_source_and_disabled_key_are_refused(client: Client, source: Source, write_key: str) -> None:
    source.write_keys.update(enabled=False)
    assert post(client, "/v1/identify", {"userId": "u"}, key=write_key).status_code == 401
    source.write_keys.update(enabled=True)
    Source.objects.filter(pk=source.pk).update(enabled=False)
    assert post(client, "/v1/identify", {"userId": "u"}, key=write_key).status_code == 401
    assert not InboundEvent.objects.exists()


def test_gzip_body_is_decompressed(client: Client, write_key: str) -> None:
    body = gzip.compress(json.dumps(fixture("batch__python_client")).encode())

    response = post(client, "/v1/batch", body, key=write_key, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 200
    assert InboundEvent.objects.count() == 2


def test_gzip_bomb_is_refused_without_inflating_it(client: Client, write_key: str) -> None:
    # 50 MB of spaces compress to ~50 KB; the intake stops inflating at the batch limit.
    bomb = gzip.compress(b'{"batch": [' + b" " * 50_000_000 + b"]}")

    response = post(client, "/v1/batch", bomb, key=write_key, HTTP_CONTENT_ENCODING="gzip")

    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"


def test_corrupt_gzip_is_400(client: Client, write_key: str) -> None:
    response = post(client, "/v1/batch", b"\x1f\x8b\x08garbage", key=write_key, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_gzip"


def test_single_call_over_32kb_is_400(client: Client, write_key: str) -> None:
    body = {"userId": "u1", "traits": {"blob": "x" * 33_000}}
    response = post(client, "/v1/identify", body, key=write_key)
    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"
    assert not InboundEvent.objects.exists()


def test_oversize_event_in_a_batch_is_rejected_and_its_siblings_kept(client: Client, write_key: str) -> None:
    body = {
        "batch": [
            {"type": "identify", "userId": "big", "traits": {"blob": "x" * 33_000}},
            {"type": "track", "userId": "small", "event": "Kept"},
        ]
    }
    response = post(client, "/v1/batch", body, key=write_key)

    assert response.status_code == 200
    big = InboundEvent.objects.get(user_id="big")
    assert big.status == InboundEvent.Status.REJECTED
    assert "more than 32768" in big.reason
    assert big.payload["truncated"] is True
    assert InboundEvent.objects.get(user_id="small").status == InboundEvent.Status.ACCEPTED


def test_batch_as_large_as_the_python_client_sends_is_accepted(client: Client, write_key: str) -> None:
    # The client stops a batch once it reaches 475,000 bytes; one more item may add up to 32 KB.
    item = {"type": "track", "userId": "u", "event": "E", "properties": {"pad": "p" * 4_700}}
    batch = [dict(item, messageId=f"m{i}") for i in range(99)]
    batch.append(
        {
            "type": "track",
            "userId": "u",
            "event": "E",
            "messageId": "last",
            "properties": {"pad": "q" * 32_000},
        }
    )
    data = json.dumps({"batch": batch, "writeKey": write_key}).encode()
    assert 500_000 < len(data) < 512_000

    response = post(client, "/v1/batch", data)

    assert response.status_code == 200
    assert InboundEvent.objects.filter(status="accepted").count() == 100


def test_batch_over_the_size_limit_is_400(client: Client, write_key: str) -> None:
    batch = [
        {"type": "track", "userId": "u", "event": "E", "properties": {"pad": "p" * 30_000}} for _ in range(20)
    ]
    response = post(client, "/v1/batch", {"batch": batch}, key=write_key)
    assert response.status_code == 400
    assert response.json()["code"] == "request_too_large"
    assert not InboundEvent.objects.exists()


def test_batch_over_2500_events_is_400(client: Client, write_key: str) -> None:
    batch = [{"type": "track", "userId": "u", "event": "E"} for _ in range(2501)]
    response = post(client, "/v1/batch", {"batch": batch}, key=write_key)
    assert response.status_code == 400
    assert response.json()["code"] == "batch_too_large"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"", "invalid_json"),
        (b"[1, 2]", "invalid_json"),
        (b'"just a string"', "invalid_json"),
        (b"\xff\xfe\x00", "invalid_json"),
        (b'{"batch": {"type": "track"}}', "invalid_batch"),
    ],
)
def test_malformed_bodies_are_400_with_code_and_message(
    client: Client, write_key: str, body: bytes, code: str
) -> None:
    response = post(client, "/v1/batch", body, key=write_key)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert response.json()["message"]


def test_repeated_message_id_is_stored_once_per_source(client: Client, write_key: str) -> None:
    other_source, other_key = source_create(name="Mobile", slug="mobile")
    body = {"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": "retry-1"}]}

    for _ in range(3):
        assert post(client, "/v1/batch", body, key=write_key).status_code == 200
    assert post(client, "/v1/batch", body, key=other_key).status_code == 200

    assert InboundEvent.objects.filter(message_id="retry-1").count() == 2
    assert InboundEvent.objects.filter(source=other_source).count() == 1


def test_clock_skew_is_corrected_as_segment_does(client: Client, write_key: str) -> None:
    # The device clock is 1 hour behind: it stamped the call at 09:00:00 and sent it at 09:00:05.
    body = {
        "batch": [{"type": "track", "userId": "u", "event": "E", "timestamp": "2026-03-01T09:00:00.000Z"}],
        "sentAt": "2026-03-01T09:00:05.000Z",
    }
    received = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)
    with time_machine.travel(received, tick=False):
        post(client, "/v1/batch", body, key=write_key)

    event = InboundEvent.objects.get()
    assert event.received_at == received
    assert event.original_timestamp == datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
    assert event.sent_at == datetime(2026, 3, 1, 9, 0, 5, tzinfo=UTC)
    assert event.timestamp == received - timedelta(seconds=5)
    assert event.payload["timestamp"] == "2026-03-01T10:00:25Z"
    assert event.payload["originalTimestamp"] == "2026-03-01T09:00:00Z"


def test_without_sent_at_the_client_timestamp_is_kept_verbatim(client: Client, write_key: str) -> None:
    post(
        client,
        "/v1/track",
        {"userId": "u", "event": "E", "timestamp": "2019-05-05T05:05:05+02:00"},
        key=write_key,
    )
    assert InboundEvent.objects.get().timestamp == datetime(2019, 5, 5, 3, 5, 5, tzinfo=UTC)


def test_without_any_client_time_the_timestamp_is_the_receive_time(client: Client, write_key: str) -> None:
    post(client, "/v1/track", {"userId": "u", "event": "E"}, key=write_key)
    event = InboundEvent.objects.get()
    assert event.timestamp == event.received_at
    assert event.original_timestamp is None


def test_batch_context_and_integrations_merge_into_each_event(client: Client, write_key: str) -> None:
    post(client, "/v1/batch", fixture("batch__docs_example"), key=write_key)

    events = list(InboundEvent.objects.order_by("id"))
    assert len(events) == 4
    assert all(e.payload["context"]["device"]["type"] == "phone" for e in events)
    assert all(e.payload["integrations"] == {"All": True} for e in events)
    # The docs' own non-padded date parses.
    assert events[3].original_timestamp == datetime(2015, 2, 2, 0, 30, 8, tzinfo=UTC)


def test_an_events_own_context_keys_win_over_the_batch_context(client: Client, write_key: str) -> None:
    body = {
        "batch": [
            {"type": "track", "userId": "u", "event": "E", "context": {"ip": "10.0.0.2", "locale": "nl-BE"}}
        ],
        "context": {"ip": "10.0.0.1", "timezone": "Europe/Brussels"},
    }
    post(client, "/v1/batch", body, key=write_key)
    assert InboundEvent.objects.get().payload["context"] == {
        "ip": "10.0.0.2",
        "locale": "nl-BE",
        "timezone": "Europe/Brussels",
    }


def test_nulls_and_numeric_ids_are_accepted(client: Client, write_key: str) -> None:
    body = {
        "batch": [
            {"type": "identify", "userId": 12345, "anonymousId": None, "traits": None, "messageId": 987},
            {"type": "page", "userId": "u", "name": None, "category": None},
            {"type": "group", "userId": 7, "groupId": 42},
        ]
    }
    assert post(client, "/v1/batch", body, key=write_key).status_code == 200

    identify = InboundEvent.objects.get(type="identify")
    assert identify.status == "accepted"
    assert identify.user_id == "12345"
    assert identify.message_id == "987"
    assert identify.payload["userId"] == "12345"
    assert InboundEvent.objects.get(type="group").payload["groupId"] == "42"
    assert InboundEvent.objects.get(type="page").status == "accepted"


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"type": "identify", "traits": {"email": "x@y.z"}}, "userId or anonymousId is required"),
        ({"type": "track", "userId": "u"}, "track needs an event name"),
        ({"type": "track", "userId": "u", "event": "  "}, "track needs an event name"),
        ({"type": "group", "userId": "u"}, "group needs groupId"),
        ({"type": "alias", "userId": "u"}, "alias needs previousId"),
        ({"type": "alias", "previousId": "a"}, "alias needs userId"),
        ({"type": "delete"}, "delete needs userId"),
        ({"type": "explode", "userId": "u"}, "unknown event type 'explode'"),
        ({"userId": "u"}, "unknown event type None"),
        ({"type": "identify", "userId": "u", "traits": ["not", "an", "object"]}, "traits must be an object"),
        ({"type": "identify", "userId": "u" * 300}, "userId is longer than 255 characters"),
    ],
)
def test_invalid_event_in_a_batch_is_rejected_with_its_reason_and_siblings_are_kept(
    client: Client, write_key: str, event: dict[str, Any], reason: str
) -> None:
    body = {"batch": [event, {"type": "track", "userId": "good", "event": "Kept"}]}

    response = post(client, "/v1/batch", body, key=write_key)

    assert response.status_code == 200
    rejected = InboundEvent.objects.get(status=InboundEvent.Status.REJECTED)
    assert rejected.reason == reason
    assert InboundEvent.objects.get(status=InboundEvent.Status.ACCEPTED).user_id == "good"


def test_a_batch_item_that_is_not_an_object_is_rejected(client: Client, write_key: str) -> None:
    response = post(
        client, "/v1/batch", {"batch": [42, {"type": "track", "userId": "u", "event": "E"}]}, key=write_key
    )
    assert response.status_code == 200
    assert InboundEvent.objects.get(status="rejected").reason == "the event is not a JSON object"


def test_invalid_single_call_is_stored_as_rejected_and_answered_400(client: Client, write_key: str) -> None:
    response = post(client, "/v1/track", {"userId": "u"}, key=write_key)

    assert response.status_code == 400
    assert response.json() == {"code": "invalid_event", "message": "track needs an event name"}
    assert InboundEvent.objects.get().status == InboundEvent.Status.REJECTED


def test_delete_calls_are_accepted_inside_a_batch(client: Client, write_key: str) -> None:
    response = post(client, "/v1/batch", {"batch": [fixture("delete")]}, key=write_key)

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert (event.type, event.user_id, event.status) == ("delete", "u-gdpr-1", "accepted")


def test_nul_characters_are_stored_replaced_not_refused(client: Client, write_key: str) -> None:
    body = {"userId": "u\u0000x", "event": "E\u0000", "properties": {"k\u0000": "v\u0000"}}

    response = post(client, "/v1/track", body, key=write_key)

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.user_id == "u\ufffdx"
    assert event.payload["properties"] == {"k\ufffd": "v\ufffd"}
    assert "U+0000" in event.reason


def test_unparseable_timestamp_keeps_the_event_and_notes_it(client: Client, write_key: str) -> None:
    response = post(
        client, "/v1/track", {"userId": "u", "event": "E", "timestamp": "yesterday-ish"}, key=write_key
    )

    assert response.status_code == 200
    event = InboundEvent.objects.get()
    assert event.status == "accepted"
    assert event.timestamp == event.received_at
    assert "timestamp not understood" in event.reason


def test_message_id_longer_than_100_characters_is_replaced(client: Client, write_key: str) -> None:
    post(client, "/v1/track", {"userId": "u", "event": "E", "messageId": "m" * 101}, key=write_key)
    event = InboundEvent.objects.get()
    assert event.message_id.startswith("hub-")
    assert "messageId" in event.reason


def test_database_outage_answers_503_never_200(
    client: Client, write_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable(**kwargs: Any) -> list[int]:
        raise OperationalError("connection refused")

    monkeypatch.setattr("integrations.services.inbound_events_store", unreachable)

    response = post(client, "/v1/track", {"userId": "u", "event": "E"}, key=write_key)

    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"


def test_get_is_405_json(client: Client) -> None:
    response = client.get("/v1/batch")
    assert response.status_code == 405
    assert set(response.json()) == {"code", "message"}
