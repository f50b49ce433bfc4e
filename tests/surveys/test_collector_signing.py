"""A collector with an Intercom client secret takes only signed calls on its Intercom link.

The link pasted into Intercom used to invite anyone when replayed as a generic call: `source=intercom`
changed to `source=api`, dropped, or sent as a GET with `&email=`. Calls from other tools have their
own link (their own token), refused on such a collector unless staff allow unsigned calls on it.
"""

import hashlib
import importlib
import json
from typing import Any

import pytest
from django.test import Client

from customers.models import Person
from integrations.models import InboundEvent
from surveys.models import Collector, Invitation, Survey
from tests.conftest import ROOT
from tests.integrations.intercom.support import (
    SECRET,
    CaptureOnCommit,
    collector_make,
    fixture_bytes,
    intercom_post,
    link,
)
from tests.surveys.factories import survey_make

pytestmark = pytest.mark.django_db

MALLORY = "mallory@example.com"


@pytest.fixture
def survey() -> Survey:
    return survey_make()


@pytest.fixture
def signed(survey: Survey) -> Collector:
    return collector_make(survey, secrets={"client_secret": SECRET})


def intercom_link_as(collector: Collector, source: str | None) -> str:
    """The Intercom link with its `source` changed (None: dropped)."""
    url = link(collector, "webhook_link")
    return url.replace("&source=intercom", "" if source is None else f"&source={source}")


def nobody_invited() -> None:
    assert not Invitation.objects.exists()
    assert not Person.objects.exists()


def refused_events(collector: Collector) -> list[InboundEvent]:
    assert collector.source is not None
    return list(collector.source.events.order_by("pk"))


@pytest.mark.parametrize(
    ("method", "source", "query"),
    [
        ("post", "api", ""),
        ("post", None, ""),
        ("post", "zapier", ""),
        ("get", "api", f"&email={MALLORY}"),
        ("get", None, f"&email={MALLORY}"),
    ],
    ids=["source=api", "source dropped", "source=zapier", "GET source=api &email=", "GET &email="],
)
def test_the_intercom_link_replayed_as_a_generic_call_is_refused_and_logged(
    client: Client, signed: Collector, method: str, source: str | None, query: str
) -> None:
    url = intercom_link_as(signed, source) + query
    if method == "post":
        response = client.post(url, json.dumps({"email": MALLORY}), content_type="application/json")
    else:
        response = client.get(url)

    assert response.status_code == 401
    assert response.json()["code"] == "signature_required"
    assert "signed" in response.json()["message"]
    nobody_invited()
    [event] = refused_events(signed)
    assert event.status == InboundEvent.Status.REJECTED
    assert event.reason == response.json()["message"]
    assert MALLORY not in json.dumps(event.payload)  # nothing of a refused call's contact is kept


def test_turning_the_collector_off_through_the_intercom_link_is_refused(
    client: Client, signed: Collector
) -> None:
    url = intercom_link_as(signed, "api").replace("addContactToCollector", "turnOffCollector")

    response = client.post(url)

    assert response.status_code == 401
    signed.refresh_from_db()
    assert signed.enabled


def test_a_signed_notification_on_the_intercom_link_still_invites(
    client: Client, signed: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    body = fixture_bytes("conversation_admin_closed")
    response = intercom_post(client, signed, body, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert Invitation.objects.count() == 1


def test_calls_from_other_tools_have_their_own_token(signed: Collector) -> None:
    assert signed.generic_token
    assert signed.generic_token != signed.token
    assert signed.token not in link(signed, "api_link")
    assert signed.generic_token in link(signed, "api_link")
    assert signed.generic_token not in link(signed, "webhook_link")


def add_with_api_link(client: Client, collector: Collector, **extra: Any) -> Any:
    body = json.dumps({"email": MALLORY})
    return client.post(link(collector, "api_link"), body, content_type="application/json", **extra)


def test_the_api_link_of_a_signed_collector_is_refused_until_staff_allow_unsigned_calls(
    client: Client, signed: Collector
) -> None:
    refused = add_with_api_link(client, signed)

    assert refused.status_code == 403
    assert refused.json()["code"] == "unsigned_calls_off"
    nobody_invited()

    Collector.objects.filter(pk=signed.pk).update(unsigned_calls=True)
    allowed = add_with_api_link(client, signed)

    assert allowed.status_code == 200
    assert allowed.json()["status"] == "invited"


def test_the_api_link_cannot_be_reused_as_the_intercom_link_without_a_signature(
    client: Client, signed: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    url = link(signed, "api_link").replace("&source=api", "&source=intercom")
    body = fixture_bytes("conversation_admin_closed")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, body, content_type="application/json")

    assert response.status_code == 401
    nobody_invited()


def test_without_a_client_secret_both_links_take_generic_calls(client: Client, survey: Survey) -> None:
    """Nothing is signed then: the old links (Intercom's, with its token) keep working."""
    unsigned = collector_make(survey)
    old = intercom_link_as(unsigned, "api")

    by_old_link = client.post(old, json.dumps({"email": "ann@example.com"}), content_type="application/json")
    by_api_link = client.post(
        link(unsigned, "api_link"), json.dumps({"email": "bo@example.com"}), content_type="application/json"
    )

    assert (by_old_link.status_code, by_api_link.status_code) == (200, 200)
    assert Invitation.objects.count() == 2


def test_the_api_and_the_admin_show_and_set_the_switch(
    admin_client: Client, api_client: Any, signed: Collector
) -> None:
    body = api_client.get(f"/api/collectors/{signed.pk}/").json()
    assert body["unsigned_calls"] is False
    assert signed.generic_token in body["api_link"]

    changed = api_client.patch(f"/api/collectors/{signed.pk}/", {"unsigned_calls": True}, format="json")
    assert changed.status_code == 200
    signed.refresh_from_db()
    assert signed.unsigned_calls

    page = admin_client.get(f"/admin/surveys/collector/{signed.pk}/change/").content.decode()
    assert 'name="unsigned_calls"' in page


def test_the_migration_gives_existing_collectors_their_own_api_link_token(
    client: Client, survey: Survey
) -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    # Found by name: other changes may renumber the surveys migrations.
    [path] = (ROOT / "surveys" / "migrations").glob("*_collector_generic_token.py")
    migration = importlib.import_module(f"surveys.migrations.{path.stem}")
    old = collector_make(survey)
    Collector.objects.filter(pk=old.pk).update(generic_token="", generic_token_hash="")
    historical = MigrationExecutor(connection).loader.project_state(("surveys", path.stem)).apps

    migration.generic_tokens_create(historical, None)

    old.refresh_from_db()
    assert old.generic_token
    assert old.generic_token != old.token
    assert old.generic_token_hash == hashlib.sha256(old.generic_token.encode()).hexdigest()
    for url in (intercom_link_as(old, "api"), link(old, "api_link")):  # old links keep working
        body = json.dumps({"email": "ann@example.com"})
        assert client.post(url, body, content_type="application/json").status_code == 200
