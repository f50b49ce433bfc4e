"""One bad event never sinks its batch: 99 valid events plus one poison event answer 200 and store the 99.

Each poison kind here once answered 500 with none of the 99 stored (on PostgreSQL, SQLite or both).
The bad event is written as raw JSON text: Python's json cannot even produce 1000 levels.
"""

import base64
import json

import psycopg
import pytest
from django.db import connection
from django.test import Client

from hub.cleaning import MAX_JSON_DEPTH, TOO_DEEP
from integrations.models import InboundEvent
from tests.conftest import service_missing

pytestmark = pytest.mark.django_db


def nested_object(levels: int) -> str:
    return '{"a":' * levels + '"x"' + "}" * levels


def nested_array(levels: int) -> str:
    return "[" * levels + '"x"' + "]" * levels


def track(**fields: object) -> str:
    return json.dumps({"type": "track", "userId": "u-bad", "event": "Bad", **fields})


def with_properties(properties: str, event_type: str = "track") -> str:
    return f'{{"type":"{event_type}","userId":"u-bad","event":"Bad","properties":{properties}}}'


TOO_DEEP_REASON = f"nests more than {MAX_JSON_DEPTH} levels deep"
# kind: (the bad event, its stored status, a part of its stored reason)
POISON = {
    "nul-in-messageId": (track(messageId="m\x00x"), "accepted", ""),
    "depth-254": (with_properties(nested_object(253)), "rejected", TOO_DEEP_REASON),
    "depth-1000": (with_properties(nested_object(1000)), "rejected", TOO_DEEP_REASON),
    "depth-254-unknown-type": (
        with_properties(nested_object(254), "bogus"),
        "rejected",
        "unknown event type",
    ),
    "depth-1000-unknown-type": (
        with_properties(nested_object(1000), "bogus"),
        "rejected",
        "unknown event type",
    ),
    "depth-254-not-an-object": (nested_array(254), "rejected", "not a JSON object"),
    "depth-1000-not-an-object": (nested_array(1000), "rejected", "not a JSON object"),
    "depth-254-messageId": (
        '{"type":"track","userId":"u-bad","event":"Bad","messageId":' + nested_object(254) + "}",
        "rejected",
        TOO_DEEP_REASON,
    ),
    "year-1-with-offset": (track(timestamp="0001-01-01T00:00:00+14:00"), "accepted", "not understood"),
    "year-9999-with-offset": (track(timestamp="9999-12-31T23:59:59-14:00"), "accepted", "not understood"),
    "offset-beyond-16h": (track(timestamp="2026-01-01T00:00:00-17:18"), "accepted", "not understood"),
    "skew-sent-9999-event-1": (
        track(originalTimestamp="0001-01-02T00:00:00Z", sentAt="9999-12-30T00:00:00Z"),
        "accepted",
        "too far apart",
    ),
    "skew-sent-1-event-9999": (
        track(originalTimestamp="9999-12-30T00:00:00Z", sentAt="0001-01-02T00:00:00Z"),
        "accepted",
        "too far apart",
    ),
}


def batch_with(bad: str, write_key: str) -> str:
    valid = [
        json.dumps({"type": "track", "userId": f"u{n}", "event": "Valid", "messageId": f"ok-{n}"})
        for n in range(99)
    ]
    # The bad one in the middle: neither first nor last is special.
    events = [*valid[:50], bad, *valid[50:]]
    return f'{{"writeKey":"{write_key}","batch":[{",".join(events)}]}}'


@pytest.mark.parametrize(("bad", "status", "reason"), POISON.values(), ids=POISON.keys())
def test_a_poison_event_is_stored_alone_and_its_99_siblings_are_stored(
    client: Client, write_key: str, bad: str, status: str, reason: str
) -> None:
    response = client.post("/v1/batch", batch_with(bad, write_key), content_type="application/json")

    assert response.status_code == 200, response.content
    valid = InboundEvent.objects.filter(message_id__startswith="ok-")
    assert valid.count() == 99
    assert set(valid.values_list("status", flat=True)) == {"accepted"}
    poison = InboundEvent.objects.exclude(message_id__startswith="ok-").get()
    assert poison.status == status
    assert reason in poison.reason
    if status == "accepted":  # a time the hub cannot use is the time it received the event
        assert poison.timestamp == poison.received_at


def test_a_nul_in_the_message_id_is_replaced_in_the_column_and_the_payload(
    client: Client, write_key: str
) -> None:
    client.post(
        "/v1/batch", batch_with(track(messageId="m\x00x"), write_key), content_type="application/json"
    )

    poison = InboundEvent.objects.get(user_id="u-bad")
    assert poison.message_id == poison.payload["messageId"] == "m\ufffdx"


def test_a_too_deep_event_is_kept_cut_for_staff_to_see(client: Client, write_key: str) -> None:
    client.post(
        "/v1/batch",
        batch_with(with_properties(nested_object(1000)), write_key),
        content_type="application/json",
    )

    poison = InboundEvent.objects.get(user_id="u-bad")
    assert poison.payload["event"] == "Bad"
    assert TOO_DEEP in json.dumps(poison.payload)


@pytest.mark.parametrize("header", ["Basic éé", "Basic " + base64.b64encode("é:".encode("latin-1")).decode()])
def test_a_non_ascii_basic_header_is_no_key(client: Client, write_key: str, header: str) -> None:
    body = json.dumps({"userId": "u", "event": "E"})

    refused = client.post("/v1/track", body, content_type="application/json", HTTP_AUTHORIZATION=header)
    with_body_key = client.post(
        "/v1/track",
        json.dumps({"userId": "u", "event": "E", "writeKey": write_key}),
        content_type="application/json",
        HTTP_AUTHORIZATION=header,
    )

    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_write_key"
    assert with_body_key.status_code == 200  # a malformed header is ignored when the body has the key


@pytest.mark.django_db(transaction=True)
def test_a_postgresql_error_on_the_intake_insert_is_503_json(client: Client, write_key: str) -> None:
    """The batch insert runs on psycopg's own cursor; its errors are not Django's unless mapped."""
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (the intake's binary insert)")
    table = InboundEvent._meta.db_table
    settings = connection.settings_dict
    with (
        psycopg.connect(
            host=settings["HOST"] or "127.0.0.1",
            port=settings["PORT"] or 5432,
            user=settings["USER"],
            password=settings["PASSWORD"] or None,
            dbname=settings["NAME"],
        ) as other,
        connection.cursor() as cursor,
    ):
        other.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        cursor.execute("SET lock_timeout = '200ms'")
        try:
            response = client.post(
                "/v1/batch",
                json.dumps(
                    {"batch": [{"type": "track", "userId": "u", "event": "E"}], "writeKey": write_key}
                ),
                content_type="application/json",
            )
        finally:
            cursor.execute("RESET lock_timeout")
            other.rollback()

    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert not InboundEvent.objects.exists()


def test_a_batch_context_nested_too_deep_is_refused_as_a_whole(client: Client, write_key: str) -> None:
    """The envelope's context is merged into every event: its depth is the request's problem."""
    body = f'{{"writeKey":"{write_key}","context":{nested_object(300)},"batch":[{track()}]}}'

    response = client.post("/v1/batch", body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_batch"
    assert not InboundEvent.objects.exists()
