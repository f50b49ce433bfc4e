"""Suppressions and deletion receipts keep a keyed hash (HMAC), never a hash a list of emails reverses.

The key comes from HUB_HASH_KEYS: the first hashes new rows, every key matches (rotation), and rows
stored as bare SHA-256 before keyed hashes existed still suppress while HUB_HASH_LEGACY_SHA256 is on.
"""

import hashlib
from typing import Any

import pytest
from django.test import Client

from customers.models import DeletionReceipt, Person, Suppression
from integrations.models import Source
from tests.customers.test_people import fixture, send

pytestmark = pytest.mark.django_db

OLD_KEY = "old-hash-key-for-tests-0123456789abcdef"
NEW_KEY = "new-hash-key-for-tests-fedcba9876543210"


def bare_sha256(kind: str, value: str) -> str:
    """What the hub stored before keyed hashes: anyone with a list of emails can find who it was."""
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def identify(client: Client, write_key: str, user_id: str, email: str) -> None:
    send(client, write_key, {"type": "identify", "userId": user_id, "traits": {"email": email}})


def test_a_stored_suppression_and_receipt_are_not_the_bare_sha256_of_the_value(
    client: Client, write_key: str
) -> None:
    identify(client, write_key, "u-gdpr-1", "gone@example.com")

    send(client, write_key, fixture("delete"))  # userId u-gdpr-1

    stored = set(Suppression.objects.values_list("value_hash", flat=True))
    assert len(stored) == 2
    assert bare_sha256("user_id", "u-gdpr-1") not in stored
    assert bare_sha256("email", "gone@example.com") not in stored
    receipt = DeletionReceipt.objects.get()
    assert receipt.user_id_hash
    assert receipt.user_id_hash != bare_sha256("user_id", "u-gdpr-1")


def test_rows_written_under_an_old_key_still_suppress_after_a_new_key_is_put_first(
    client: Client, write_key: str, settings: Any
) -> None:
    settings.HUB_HASH_KEYS = [OLD_KEY]
    identify(client, write_key, "u-gdpr-1", "gone@example.com")
    send(client, write_key, fixture("delete"))

    settings.HUB_HASH_KEYS = [NEW_KEY, OLD_KEY]
    identify(client, write_key, "u-gdpr-1", "gone@example.com")
    identify(client, write_key, "u-new-account", "gone@example.com")  # the same email, a new userId

    assert not Person.objects.exists()

    # The key is what matches: without the old key the erased person would come back.
    settings.HUB_HASH_KEYS = [NEW_KEY]
    identify(client, write_key, "u-gdpr-1", "gone@example.com")
    assert Person.objects.filter(user_id="u-gdpr-1").exists()


def test_a_new_key_hashes_new_rows(client: Client, write_key: str, settings: Any) -> None:
    settings.HUB_HASH_KEYS = [OLD_KEY]
    identify(client, write_key, "u-1", "one@example.com")
    send(client, write_key, {"type": "delete", "userId": "u-1"})
    settings.HUB_HASH_KEYS = [NEW_KEY, OLD_KEY]
    identify(client, write_key, "u-2", "two@example.com")
    send(client, write_key, {"type": "delete", "userId": "u-2"})

    settings.HUB_HASH_KEYS = [NEW_KEY]  # the old key dropped: only the rows hashed with the new one hold
    identify(client, write_key, "u-1", "one@example.com")
    identify(client, write_key, "u-2", "two@example.com")

    assert list(Person.objects.values_list("user_id", flat=True)) == ["u-1"]


def test_rows_stored_as_bare_sha256_before_the_upgrade_still_suppress(
    client: Client, source: Source, write_key: str, settings: Any
) -> None:
    for kind, value in (("user_id", "u-old"), ("email", "old@example.com")):
        Suppression.objects.create(
            source=source, kind=kind, value_hash=bare_sha256(kind, value), reason="deleted", key_id="sha256"
        )

    identify(client, write_key, "u-old", "someone@example.com")
    identify(client, write_key, "u-other", "Old@Example.com")
    assert not Person.objects.exists()

    # An operator who deleted the legacy rows (or accepts losing them) turns legacy matching off.
    settings.HUB_HASH_LEGACY_SHA256 = False
    identify(client, write_key, "u-old", "someone@example.com")
    assert Person.objects.filter(user_id="u-old").exists()


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_marks_old_rows_legacy_and_makes_unsubscribed_addresses_hub_wide() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("customers", "0001_initial")], [("customers", "0002_suppression_keyed_hub_wide")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    OldSource = old_apps.get_model("integrations", "Source")
    OldSuppression = old_apps.get_model("customers", "Suppression")
    shop = OldSource.objects.create(name="Shop", slug="shop")
    app = OldSource.objects.create(name="App", slug="app")
    rows = [
        (shop, "email", "ann@example.com", "unsubscribed"),
        (app, "email", "ann@example.com", "unsubscribed"),  # the same address in two sources
        (shop, "email", "bob@example.com", "deleted"),
        (shop, "user_id", "u-1", "unsubscribed"),
    ]
    for source, kind, value, reason in rows:
        OldSuppression.objects.create(
            source=source, kind=kind, value_hash=bare_sha256(kind, value), reason=reason
        )

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    stored = set(Suppression.objects.values_list("source__slug", "kind", "value_hash", "reason", "key_id"))
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # whatever depends on 0002 too

    assert stored == {
        (None, "email", bare_sha256("email", "ann@example.com"), "unsubscribed", "sha256"),
        ("shop", "email", bare_sha256("email", "bob@example.com"), "deleted", "sha256"),
        ("shop", "user_id", bare_sha256("user_id", "u-1"), "unsubscribed", "sha256"),
    }
