"""Calls refused for a wrong or disabled write key are counted per source and client address (never
their bodies) and shown on the source's admin page, at most one write per row a minute."""

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations import refused_calls
from integrations.models import InboundEvent, RefusedCalls, Source, WriteKey
from integrations.refused_calls import refused_calls_flush
from integrations.tasks import refused_calls_flush_task

pytestmark = pytest.mark.django_db

SECRET_TRAIT = "secret-trait-value-42"


def call(client: Client, key: str, address: str = "203.0.113.7") -> int:
    body = json.dumps({"userId": "u-1", "event": "Order Completed", "properties": {"note": SECRET_TRAIT}})
    response = client.post(
        "/v1/track",
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION="Basic " + base64.b64encode(f"{key}:".encode()).decode(),
        REMOTE_ADDR=address,
    )
    return response.status_code


def refused_writes(queries: CaptureQueriesContext) -> list[str]:
    return [
        q["sql"]
        for q in queries.captured_queries
        if "integrations_refusedcalls" in q["sql"] and not q["sql"].lstrip().upper().startswith("SELECT")
    ]


def test_a_disabled_key_is_counted_for_its_source_and_shown_on_its_page(
    client: Client, admin_client: Client, source: Source, write_key: str
) -> None:
    WriteKey.objects.update(enabled=False)
    with CaptureQueriesContext(connection) as queries:
        statuses = [call(client, write_key) for _ in range(30)]
    assert statuses == [401] * 30
    # One write for the first refusal (a new caller shows at once: an UPDATE finding no row, then the
    # INSERT), the rest counted in the cache.
    assert len(refused_writes(queries)) == 2
    assert RefusedCalls.objects.get().count == 1

    assert refused_calls_flush_task() == 1  # the beat task, every minute
    row = RefusedCalls.objects.get()
    assert (row.source, row.address, row.count) == (source, "203.0.113.7", 30)
    assert row.first_seen_at <= row.last_seen_at
    assert not InboundEvent.objects.exists()

    page = admin_client.get(f"/admin/integrations/source/{source.pk}/change/").content.decode()
    own = page.split("With a disabled key of this source")[1].split("With an unknown key")[0]
    assert "<td>203.0.113.7</td><td>30</td>" in own
    # The bodies are kept nowhere: not in the table, not on the page.
    assert SECRET_TRAIT not in page
    assert not [r for r in RefusedCalls.objects.values() if SECRET_TRAIT in json.dumps(r, default=str)]


def test_a_disabled_source_counts_for_that_source_too(client: Client, source: Source, write_key: str) -> None:
    Source.objects.update(enabled=False)
    assert call(client, write_key) == 401
    assert RefusedCalls.objects.get().source == source


def test_an_unknown_key_is_counted_hub_wide_by_address(
    client: Client, admin_client: Client, source: Source
) -> None:
    for address in ["198.51.100.1", "198.51.100.1", "2001:db8:1:2::5", "2001:db8:1:2::6"]:
        assert call(client, "no-such-key-at-all", address) == 401
    assert call(client, "") == 401  # no key at all is counted the same way
    refused_calls_flush()

    counts = {row.address: row.count for row in RefusedCalls.objects.filter(source=None)}
    # An IPv6 client is counted by its /64, as the rate limits count it.
    assert counts == {"198.51.100.1": 2, "2001:db8:1:2::": 2, "203.0.113.7": 1}
    page = admin_client.get(f"/admin/integrations/source/{source.pk}/change/").content.decode()
    unknown = page.split("With an unknown key or none (any source)")[1]
    assert "<td>198.51.100.1</td><td>2</td>" in unknown


# The clock stands still: the limit is per minute of the clock, and a minute that ended mid-test (or
# a write gate's 60 s that ran out on a slow machine) would let more addresses be written.
@time_machine.travel(datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC), tick=False)
def test_many_addresses_in_a_minute_are_counted_together(
    client: Client, monkeypatch: Any, source: Source
) -> None:
    monkeypatch.setattr(refused_calls, "ADDRESSES_PER_MINUTE", 3)
    with CaptureQueriesContext(connection) as queries:
        for n in range(40):
            assert call(client, "sprayed-key", f"192.0.2.{n}") == 401
    refused_calls_flush()

    # Three addresses and "many addresses" (an UPDATE and an INSERT each), not forty writes.
    assert len(refused_writes(queries)) == 8
    counts = {row.address: row.count for row in RefusedCalls.objects.all()}
    assert counts == {"192.0.2.0": 1, "192.0.2.1": 1, "192.0.2.2": 1, "many addresses": 37}


def test_accepted_calls_leave_no_trace_and_no_extra_query(client: Client, write_key: str) -> None:
    with CaptureQueriesContext(connection) as queries:
        assert call(client, write_key) == 200
    assert not RefusedCalls.objects.exists()
    assert not [q for q in queries.captured_queries if "refusedcalls" in q["sql"]]


def test_a_refused_key_is_looked_up_once(client: Client, source: Source, write_key: str) -> None:
    WriteKey.objects.update(enabled=False)
    with CaptureQueriesContext(connection) as queries:
        assert call(client, write_key) == 401
    # The lookup that refused it also says whose key it is, for the count.
    assert len([q for q in queries.captured_queries if "integrations_writekey" in q["sql"]]) == 1
    assert RefusedCalls.objects.get().source == source
