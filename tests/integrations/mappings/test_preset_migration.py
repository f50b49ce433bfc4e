"""The data migration ships the presets and never overwrites what staff changed in them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from integrations.models import MappingSet
from tests.integrations.mappings.helpers import PRESETS_MIGRATION

pytestmark = pytest.mark.django_db


def test_the_data_migration_ships_the_presets() -> None:
    presets = MappingSet.objects.filter(is_preset=True)
    assert {(s.name, s.slug, s.target, tuple(s.call_types)) for s in presets} == {
        (
            "CustomerSuccessBox accounts",
            "customersuccessbox-accounts",
            "customersuccessbox.account",
            ("group",),
        ),
        ("CustomerSuccessBox users", "customersuccessbox-users", "customersuccessbox.user", ("identify",)),
        (
            "CustomerSuccessBox feature usage",
            "customersuccessbox-feature-usage",
            "customersuccessbox.feature",
            ("track",),
        ),
        ("Wootric end users", "wootric-end-users", "wootric.end_user", ("identify",)),
        (
            "Hello Customer respondents",
            "hello-customer-respondents",
            "hellocustomer.respondent",
            ("identify",),
        ),
    }


def test_rerunning_the_data_migration_keeps_staff_edits() -> None:
    users = MappingSet.objects.get(name="CustomerSuccessBox users")
    first_name = users.rules.get(target="first_name")
    first_name.source_paths = "traits.given_name"
    first_name.save()
    users.rules.get(target="title").delete()
    MappingSet.objects.filter(name="Wootric end users").delete()

    historical = (
        MigrationExecutor(connection).loader.project_state(("integrations", "0003_mapping_presets")).apps
    )
    PRESETS_MIGRATION.presets_create(historical, None)

    users.refresh_from_db()
    assert users.rules.get(target="first_name").source_paths == "traits.given_name"
    assert not users.rules.filter(target="title").exists()
    assert MappingSet.objects.filter(name="CustomerSuccessBox users").count() == 1
    assert MappingSet.objects.get(name="Wootric end users").rules.count() == 4  # a deleted preset comes back
