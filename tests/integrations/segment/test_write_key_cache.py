"""The intake trusts a write key it recognised for at most INTAKE_WRITE_KEY_CACHE_SECONDS (5 s), so
that it does not ask the database on every request: disabling or deleting a key, or disabling its
source, is refused within that time, by any process (the change here bypasses this one's memory)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from integrations.models import InboundEvent, Source, WriteKey
from integrations.services import write_key_add
from tests.integrations.segment.test_intake_http import post

pytestmark = pytest.mark.django_db


def key_disabled(source: Source) -> None:
    WriteKey.objects.filter(source=source).update(enabled=False)


def key_deleted(source: Source) -> None:
    WriteKey.objects.filter(source=source).delete()


def source_disabled(source: Source) -> None:
    Source.objects.filter(pk=source.pk).update(enabled=False)


def test_a_recognised_key_is_not_looked_up_again_on_the_next_request(client: Client, write_key: str) -> None:
    assert post(client, "/v1/identify", {"userId": "u1"}, key=write_key).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        assert post(client, "/v1/identify", {"userId": "u2"}, key=write_key).status_code == 200

    assert not [q for q in queries.captured_queries if "integrations_writekey" in q["sql"]]
    assert InboundEvent.objects.count() == 2


@pytest.mark.parametrize("change", [key_disabled, key_deleted, source_disabled])
def test_a_key_disabled_or_deleted_is_refused_within_five_seconds(
    client: Client, source: Source, write_key: str, change: Callable[[Source], None]
) -> None:
    with time_machine.travel(datetime(2026, 3, 2, 9, 0, tzinfo=UTC), tick=False) as clock:
        assert post(client, "/v1/identify", {"userId": "u1"}, key=write_key).status_code == 200
        change(source)

        clock.shift(timedelta(seconds=5))
        refused = post(client, "/v1/identify", {"userId": "u2"}, key=write_key)

    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_write_key"
    assert list(InboundEvent.objects.values_list("user_id", flat=True)) == ["u1"]


def test_with_the_cache_off_a_disabled_key_is_refused_at_once(
    client: Client, source: Source, write_key: str, settings: Any
) -> None:
    settings.INTAKE_WRITE_KEY_CACHE_SECONDS = 0
    assert post(client, "/v1/identify", {"userId": "u1"}, key=write_key).status_code == 200
    key_disabled(source)

    assert post(client, "/v1/identify", {"userId": "u2"}, key=write_key).status_code == 401


def test_a_new_key_works_at_once(client: Client, source: Source, write_key: str) -> None:
    """Rotation: a new key is never refused from memory (unknown keys are not kept)."""
    assert post(client, "/v1/identify", {"userId": "u0"}, key="rotated-key-1234").status_code == 401
    write_key_add(source=source, key="rotated-key-1234")

    assert post(client, "/v1/identify", {"userId": "u1"}, key="rotated-key-1234").status_code == 200
