"""Upgrading moves the sync-back cursor from the integrations app to the surveys app: every
destination's cursor is still there, where it was, so no answer is sent twice or skipped."""

from datetime import UTC, datetime
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from surveys.models import SyncCursor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [
    ("integrations", "0007_destination_source_required"),
    ("surveys", "0007_header_texts_and_language_codes"),
]
AFTER = [("integrations", "0008_synccursor_to_surveys"), ("surveys", "0008_synccursor_from_integrations")]
SYNCED_UP_TO = datetime(2026, 11, 2, 3, 0, 1, 500_000, tzinfo=UTC)


def migrate(targets: list[tuple[str, str]]) -> Any:
    """Migrate to `targets`; returns the models as they are there."""
    MigrationExecutor(connection).migrate(targets)
    return MigrationExecutor(connection).loader.project_state(targets).apps


def test_a_cursor_stored_before_the_move_is_the_same_cursor_after_it() -> None:
    before = migrate(BEFORE)
    source = before.get_model("integrations", "Source").objects.create(name="Web", slug="web")
    destination = before.get_model("integrations", "Destination").objects.create(
        source=source, kind="segment", name="Segment", settings={"api_host": "https://api.segment.io"}
    )
    delivery = before.get_model("integrations", "Delivery").objects.create(
        destination=destination,
        event_type="sync_back.batch",
        idempotency_key="sync-back:abc",
        payload={"batch": []},
        retry_until=SYNCED_UP_TO,
    )
    before.get_model("integrations", "SyncCursor").objects.create(
        destination=destination,
        last_response_updated_at=SYNCED_UP_TO,
        last_response_id=4211,
        batch_delivery=delivery,
        batch_until_updated_at=SYNCED_UP_TO,
        batch_until_response_id=4300,
    )

    after = migrate(AFTER)

    moved = after.get_model("surveys", "SyncCursor").objects.get(destination_id=destination.pk)
    assert (moved.last_response_updated_at, moved.last_response_id) == (SYNCED_UP_TO, 4211)
    assert (moved.batch_delivery_id, moved.batch_until_response_id) == (delivery.pk, 4300)
    executor = MigrationExecutor(connection)  # every app back at its latest migration
    executor.migrate(executor.loader.graph.leaf_nodes())
    cursor = SyncCursor.objects.get(destination_id=destination.pk)  # the model the code uses
    assert (cursor.last_response_id, cursor.destination.sync_cursor) == (4211, cursor)
