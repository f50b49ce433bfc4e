"""Upgrading to tenancy: existing destinations get the source that is known for sure, and the migration
refuses to guess between several."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = ("integrations", "0005_sync_cursor")
AFTER = ("integrations", "0007_destination_source_required")


def migrate(target: tuple[str, str]) -> Any:
    """Migrate the integrations app to `target`; returns the models as they are there."""
    executor = MigrationExecutor(connection)
    executor.migrate([target])
    return MigrationExecutor(connection).loader.project_state(target).apps


@pytest.fixture
def before_tenancy() -> Iterator[Any]:
    """The models before destinations had a source; the schema is put back afterwards."""
    apps = migrate(BEFORE)
    try:
        yield apps
    finally:
        apps = migrate(BEFORE)
        apps.get_model("integrations", "Destination").objects.all().delete()
        migrate(AFTER)
        # Every app back at its latest migration (going back to BEFORE unapplied their later ones).
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_a_destination_gets_the_only_source_or_the_one_its_settings_name(before_tenancy: Any) -> None:
    Source = before_tenancy.get_model("integrations", "Source")
    Destination = before_tenancy.get_model("integrations", "Destination")
    web = Source.objects.create(name="Web", slug="web")
    hook = Destination.objects.create(kind="webhook", name="Hook", settings={"url": "https://x.example"})

    after = migrate(AFTER)

    assert after.get_model("integrations", "Destination").objects.get(pk=hook.pk).source_id == web.pk


def test_the_sync_back_source_setting_becomes_the_destination_source(before_tenancy: Any) -> None:
    Source = before_tenancy.get_model("integrations", "Source")
    Destination = before_tenancy.get_model("integrations", "Destination")
    Source.objects.create(name="Web", slug="web")
    mobile = Source.objects.create(name="Mobile", slug="mobile")
    segment = Destination.objects.create(
        kind="segment", name="Segment", settings={"source": "mobile", "api_host": "https://api.segment.io"}
    )

    after = migrate(AFTER)

    migrated = after.get_model("integrations", "Destination").objects.get(pk=segment.pk)
    assert migrated.source_id == mobile.pk
    assert migrated.settings == {"api_host": "https://api.segment.io"}


def test_with_several_sources_and_none_named_the_migration_refuses_with_the_way_out(
    before_tenancy: Any, settings: Any
) -> None:
    Source = before_tenancy.get_model("integrations", "Source")
    Destination = before_tenancy.get_model("integrations", "Destination")
    Source.objects.create(name="Web", slug="web")
    mobile = Source.objects.create(name="Mobile", slug="mobile")
    hook = Destination.objects.create(kind="webhook", name="Ops hook", settings={"url": "https://x.example"})

    with pytest.raises(RuntimeError) as refused:
        migrate(AFTER)

    message = str(refused.value)
    assert "'Ops hook'" in message
    assert "the sources mobile, web" in message
    assert "HUB_MIGRATE_DESTINATION_SOURCE=<slug>" in message
    settings.HUB_MIGRATE_DESTINATION_SOURCE = "mobile"
    after = migrate(AFTER)
    assert after.get_model("integrations", "Destination").objects.get(pk=hook.pk).source_id == mobile.pk
