"""The migration that gives collectors a kind and moves the Intercom columns into the kind's
encrypted secrets: a collector that had an Intercom client secret before it still verifies signed
notifications after it, and still refuses unsigned ones."""

from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from integrations.intercom.handler import signature_make
from surveys.models import Collector, Invitation
from tests.integrations.intercom.support import CaptureOnCommit, collector_make, fixture_bytes, link
from tests.surveys.factories import survey_make

SECRET = "intercom-secret-from-before"
BEFORE = ("surveys", "0008_synccursor_from_integrations")


def migrate(target: list[tuple[str, str]]) -> Any:
    executor = MigrationExecutor(connection)
    executor.migrate(target)
    executor.loader.build_graph()
    return executor.loader.project_state(target).apps


@pytest.mark.django_db(transaction=True)
def test_an_intercom_secret_from_before_the_migration_still_verifies_signed_notifications(
    client: Client, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    collector = collector_make(survey_make())
    leaves = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        old_apps = migrate([BEFORE])
        OldCollector = old_apps.get_model("surveys", "Collector")
        OldCollector.objects.filter(pk=collector.pk).update(
            intercom_client_secret=SECRET, intercom_access_token="tok-before"
        )
    finally:
        migrate(leaves)

    moved = Collector.objects.get(pk=collector.pk)
    assert moved.kind == "intercom"
    assert moved.secret_values() == {"client_secret": SECRET, "access_token": "tok-before"}

    body = fixture_bytes("conversation_admin_closed")
    url = link(moved, "webhook_link")
    forged = client.post(url, body, content_type="application/json", headers={"X-Hub-Signature": "sha1=00"})
    assert forged.status_code == 401
    with django_capture_on_commit_callbacks(execute=True):
        signed = client.post(
            url,
            body,
            content_type="application/json",
            headers={"X-Hub-Signature": signature_make(body, SECRET)},
        )
    assert signed.status_code == 200, signed.content
    assert Invitation.objects.count() == 1
