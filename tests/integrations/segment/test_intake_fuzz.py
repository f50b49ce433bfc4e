"""No body, header or token makes the intake answer 500; valid events survive their bad siblings."""

import base64
import json
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integrations.models import InboundEvent

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
segment_keys = st.sampled_from(
    [
        "type",
        "userId",
        "anonymousId",
        "event",
        "groupId",
        "previousId",
        "messageId",
        "timestamp",
        "sentAt",
        "originalTimestamp",
        "traits",
        "properties",
        "context",
        "integrations",
        "name",
        "writeKey",
    ]
)
events = st.dictionaries(segment_keys, json_values, max_size=8)
fuzz = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@fuzz
@given(
    batch=st.lists(events | json_values, max_size=6),
    envelope=st.dictionaries(segment_keys, json_values, max_size=3),
)
def test_any_batch_gets_200_or_a_4xx_with_code_and_message(
    client: Client, write_key: str, batch: list[Any], envelope: dict[str, Any]
) -> None:
    body = {**envelope, "batch": batch, "writeKey": write_key}
    response = client.post("/v1/batch", json.dumps(body), content_type="application/json")

    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        assert set(response.json()) == {"code", "message"}


@fuzz
@given(event=events, call_type=st.sampled_from(["identify", "track", "page", "screen", "group", "alias"]))
def test_any_single_call_gets_200_or_a_4xx_with_code_and_message(
    client: Client, write_key: str, event: dict[str, Any], call_type: str
) -> None:
    response = client.post(
        f"/v1/{call_type}",
        json.dumps(event),
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{write_key}:".encode()).decode(),
    )
    assert response.status_code in (200, 400), response.content
    assert response.status_code == 200 or set(response.json()) == {"code", "message"}


@fuzz
@given(
    body=st.binary(max_size=200),
    # Any text, "Basic éé" included (a non-ASCII Basic header once raised ValueError).
    authorization=st.text(max_size=60) | st.text(max_size=20).map(lambda text: f"Basic {text}"),
    encoding=st.sampled_from(["", "gzip", "br", "deflate", "identity"]),
)
def test_any_bytes_and_headers_never_500(
    client: Client, write_key: str, body: bytes, authorization: str, encoding: str
) -> None:
    headers = {"HTTP_CONTENT_ENCODING": encoding, "HTTP_AUTHORIZATION": authorization}
    response = client.generic("POST", "/v1/batch", body, content_type="application/json", **headers)  # type: ignore[arg-type]
    assert response.status_code in (400, 401, 415)
    assert set(response.json()) == {"code", "message"}


@fuzz
@given(garbage=st.lists(events, min_size=1, max_size=4))
def test_a_valid_event_is_kept_whatever_its_siblings_are(
    client: Client, write_key: str, garbage: list[Any]
) -> None:
    marker = f"valid-{InboundEvent.objects.count()}"
    batch = [*garbage, {"type": "track", "userId": "u", "event": "Kept", "messageId": marker}]

    response = client.post(
        "/v1/batch", json.dumps({"batch": batch, "writeKey": write_key}), content_type="application/json"
    )

    assert response.status_code == 200
    assert InboundEvent.objects.get(message_id=marker).status == "accepted"


# Moments near the ends of what a datetime holds, with any offset a client may write (the year 0 or
# 10000 in UTC once raised OverflowError), and offsets PostgreSQL cannot store.
edge_times = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
            lambda minutes: timezone(timedelta(minutes=minutes))
        ),
    ).map(datetime.isoformat),
    st.sampled_from(["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "2026-01-01T00:00:00-17:18"]),
)
DEEP = "__nested__"


def nested(levels: int, opener: str) -> str:
    closer = "]" if opener == "[" else "}"
    return (opener if opener == "[" else '{"a":') * levels + '"x"' + closer * levels


poison = st.fixed_dictionaries(
    {"type": st.sampled_from(["track", "identify", "bogus"]), "userId": st.text(max_size=5)},
    optional={
        "messageId": st.text(max_size=12),  # NUL and control characters included
        "timestamp": edge_times,
        "originalTimestamp": edge_times,
        "sentAt": edge_times,
        "properties": st.just(DEEP),
        "traits": st.just({"name": DEEP}),
    },
)


@fuzz
@given(
    garbage=st.lists(poison, min_size=1, max_size=3),
    levels=st.integers(min_value=1, max_value=1000),
    opener=st.sampled_from(["[", "{"]),
    envelope_sent_at=edge_times | st.none(),
)
def test_deep_far_dated_or_nul_siblings_never_sink_a_valid_event(
    client: Client,
    write_key: str,
    garbage: list[dict[str, Any]],
    levels: int,
    opener: str,
    envelope_sent_at: str | None,
) -> None:
    marker = f"valid-{InboundEvent.objects.count()}"
    batch = [*garbage, {"type": "track", "userId": "u", "event": "Kept", "messageId": marker}]
    body = {"batch": batch, "writeKey": write_key, "sentAt": envelope_sent_at}
    # Python's json cannot write 1000 levels: the nesting goes in as text.
    raw = json.dumps(body).replace(json.dumps(DEEP), nested(levels, opener))

    response = client.post("/v1/batch", raw, content_type="application/json")

    assert response.status_code == 200, response.content
    kept = InboundEvent.objects.get(message_id=marker)
    assert kept.status == "accepted"
    assert kept.timestamp is not None
