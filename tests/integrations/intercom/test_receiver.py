"""Intercom webhooks on a collector's link: HEAD, ping, signatures, dedupe, the customer in every shape,
the email lookup, topics the hub does not handle; every call in the event log with its outcome."""

import json
from typing import Any

import pytest
from django.test import Client
from pytest_httpserver import HTTPServer

from customers.models import Person
from integrations.intercom.handler import signature_make
from integrations.models import InboundEvent
from surveys.models import Collector, Invitation, Survey
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


@pytest.fixture
def survey() -> Survey:
    return survey_make()


@pytest.fixture
def collector(survey: Survey) -> Collector:
    return collector_make(survey, secrets={"client_secret": SECRET})


def logged(collector: Collector) -> list[tuple[str, str, str]]:
    """The collector's calls in the event log: (event, status, reason)."""
    assert collector.source is not None
    return list(collector.source.events.order_by("pk").values_list("event", "status", "reason"))


def test_head_answers_200_for_url_validation(client: Client, collector: Collector) -> None:
    assert client.head(link(collector, "webhook_link")).status_code == 200
    assert client.head("/api.php").status_code == 200


def test_ping_is_acknowledged_and_logged(
    client: Client, collector: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    response = intercom_post(client, collector, fixture_bytes("ping"), django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert response.json()["status"] == "ping"
    assert logged(collector) == [("intercom ping", "processed", "ping acknowledged")]
    assert not Person.objects.exists()


def test_a_correctly_signed_closed_conversation_invites_the_customer(
    client: Client, collector: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    body = fixture_bytes("conversation_admin_closed")
    response = intercom_post(client, collector, body, django_capture_on_commit_callbacks)

    assert response.status_code == 200
    assert response.json()["status"] == "accepted"
    invitation = Invitation.objects.select_related("person", "trigger_event").get()
    assert invitation.person is not None
    assert (invitation.person.email, invitation.person.user_id) == ("ann.peeters@example.com", "cust-1042")
    assert invitation.person.name == "Ann Peeters"
    assert invitation.trigger_event is not None
    assert invitation.trigger_event.message_id == "notif_7d2f4a10-3c5e-4b8e-9a61-2f0c8e1d5b77"
    [(event, status, reason)] = logged(collector)
    assert (event, status) == ("intercom conversation.admin.closed", "processed")
    assert reason.startswith(f"invited: invitation {invitation.pk}")


@pytest.mark.parametrize(
    ("signature", "why"),
    [
        (None, "missing"),
        ("sha1=" + "0" * 40, "wrong"),
        ("sha1=made-with-another-secret", "garbled"),
    ],
)
def test_a_missing_or_bad_signature_is_refused_and_nothing_is_stored(
    client: Client,
    collector: Collector,
    django_capture_on_commit_callbacks: CaptureOnCommit,
    signature: str | None,
    why: str,
) -> None:
    response = intercom_post(
        client,
        collector,
        fixture_bytes("conversation_admin_closed"),
        django_capture_on_commit_callbacks,
        secret=None,
        signature=signature,
    )
    assert response.status_code == 401, why
    assert response.json()["code"] == "invalid_signature"
    assert not InboundEvent.objects.exists()
    assert not Invitation.objects.exists()


def test_a_body_changed_after_signing_is_refused(
    client: Client, collector: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    body = fixture_bytes("conversation_admin_closed")
    signature = signature_make(body, SECRET)
    tampered = body.replace(b"Ann.Peeters@example.com", b"mallory@example.com")
    response = intercom_post(
        client, collector, tampered, django_capture_on_commit_callbacks, signature=signature
    )
    assert response.status_code == 401


def test_without_a_client_secret_the_token_in_the_link_is_the_only_check(
    client: Client, survey: Survey, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    unsigned = collector_make(survey)
    response = intercom_post(
        client,
        unsigned,
        fixture_bytes("conversation_admin_closed"),
        django_capture_on_commit_callbacks,
        secret=None,
    )
    assert response.status_code == 200
    assert Invitation.objects.count() == 1


def test_a_duplicate_delivery_invites_once(
    client: Client, collector: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    body = fixture_bytes("conversation_admin_closed")
    first = intercom_post(client, collector, body, django_capture_on_commit_callbacks)
    again = intercom_post(client, collector, body, django_capture_on_commit_callbacks)

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json()["status"] == "duplicate"
    assert Invitation.objects.count() == 1
    assert len(logged(collector)) == 1


def test_v2_shape_uses_the_customer_author(
    client: Client, collector: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    intercom_post(
        client, collector, fixture_bytes("conversation_admin_closed__v2"), django_capture_on_commit_callbacks
    )
    invitation = Invitation.objects.select_related("person").get()
    assert invitation.person is not None
    assert invitation.person.email == "jules.martin@example.org"


def test_v2_without_email_and_without_access_token_is_recorded_rejected(
    client: Client, collector: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    response = intercom_post(
        client,
        collector,
        fixture_bytes("conversation_admin_closed__v2_no_author"),
        django_capture_on_commit_callbacks,
    )
    assert response.status_code == 200  # Intercom resending it cannot help
    assert response.json()["status"] == "rejected"
    [(_, status, reason)] = logged(collector)
    assert status == "rejected"
    assert reason == (
        "no contact: no email in the notification, "
        "and no Intercom access token on the collector to look it up"
    )
    assert not Invitation.objects.exists()
    assert not Person.objects.exists()


def intercom_api(httpserver: HTTPServer, settings: Any) -> None:
    settings.INTERCOM_API_BASE = httpserver.url_for("/")


def test_v2_without_email_is_looked_up_with_the_access_token(
    client: Client,
    survey: Survey,
    httpserver: HTTPServer,
    settings: Any,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    intercom_api(httpserver, settings)
    collector = collector_make(survey, secrets={"client_secret": SECRET, "access_token": "tok_abc"})
    httpserver.expect_oneshot_request(
        "/contacts/6745d011e8a1b2001f3c9c90", headers={"Authorization": "Bearer tok_abc"}
    ).respond_with_json(
        {
            "type": "contact",
            "id": "6745d011e8a1b2001f3c9c90",
            "email": "Noor@Example.com",
            "name": "Noor",
            "language_override": "nl",
        }
    )
    response = intercom_post(
        client,
        collector,
        fixture_bytes("conversation_admin_closed__v2_no_author"),
        django_capture_on_commit_callbacks,
    )

    assert response.status_code == 200
    httpserver.check_assertions()
    invitation = Invitation.objects.select_related("person").get()
    assert invitation.person is not None
    assert (invitation.person.email, invitation.person.language) == ("noor@example.com", "nl")
    assert invitation.person.user_id == "intercom:6745d011e8a1b2001f3c9c90"
    [(_, status, reason)] = logged(collector)
    assert status == "processed"
    assert reason.startswith("invited:")


def test_a_contact_the_lookup_cannot_find_is_recorded_rejected(
    client: Client,
    survey: Survey,
    httpserver: HTTPServer,
    settings: Any,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    intercom_api(httpserver, settings)
    collector = collector_make(survey, secrets={"access_token": "tok_abc"})
    httpserver.expect_request("/contacts/6745d011e8a1b2001f3c9c90").respond_with_json(
        {"type": "error.list", "errors": [{"code": "not_found"}]}, status=404
    )
    intercom_post(
        client,
        collector,
        fixture_bytes("conversation_admin_closed__v2_no_author"),
        django_capture_on_commit_callbacks,
        secret=None,
    )
    [(_, status, reason)] = logged(collector)
    assert status == "rejected"
    assert reason.startswith("no contact: Intercom contact lookup failed: HTTP 404")
    assert not Invitation.objects.exists()


def test_a_topic_the_hub_does_not_handle_is_logged_and_ignored(
    client: Client, collector: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    response = intercom_post(
        client, collector, fixture_bytes("contact_created"), django_capture_on_commit_callbacks
    )
    assert response.status_code == 200
    assert response.json()["status"] == "ignored"
    assert logged(collector) == [
        ("intercom contact.created", "processed", "ignored: topic contact.created is not mapped to an action")
    ]
    assert not Person.objects.exists()
    assert not Invitation.objects.exists()


def test_a_mapped_topic_the_hub_cannot_read_a_customer_from_is_ignored(
    client: Client, survey: Survey, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    collector = collector_make(survey, topic_actions={"contact.created": "addContactToCollector"})
    response = intercom_post(
        client, collector, fixture_bytes("contact_created"), django_capture_on_commit_callbacks, secret=None
    )
    assert response.json()["status"] == "ignored"
    assert "cannot read a customer from contact.created" in logged(collector)[0][2]


def test_topics_can_switch_the_collector(
    client: Client, survey: Survey, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    collector = collector_make(survey, topic_actions={"conversation.admin.closed": "turnOffCollector"})
    response = intercom_post(
        client,
        collector,
        fixture_bytes("conversation_admin_closed"),
        django_capture_on_commit_callbacks,
        secret=None,
    )
    assert response.json()["status"] == "turned_off"
    collector.refresh_from_db()
    assert not collector.enabled
    assert not Invitation.objects.exists()


def test_an_intercom_call_to_a_collector_that_is_off_sends_nothing(
    client: Client, survey: Survey, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    collector = collector_make(survey, enabled=False)
    response = intercom_post(
        client,
        collector,
        fixture_bytes("conversation_admin_closed"),
        django_capture_on_commit_callbacks,
        secret=None,
    )
    assert response.json()["status"] == "collector_off"
    assert not Invitation.objects.exists()
    assert logged(collector)[0][1:] == (
        "processed",
        "collector off: nothing sent (turn it on with action=turnOnCollector)",
    )


def test_a_body_that_is_not_json_is_refused(
    client: Client, collector: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    response = intercom_post(client, collector, b"topic=ping", django_capture_on_commit_callbacks)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"


def test_a_notification_id_is_the_dedupe_key_per_collector(
    client: Client, survey: Survey, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    first = collector_make(survey, name="one")
    second = collector_make(survey_make(name="Other", slug="other"), name="two")
    body = fixture_bytes("conversation_admin_closed")
    for collector in (first, second):
        intercom_post(client, collector, body, django_capture_on_commit_callbacks, secret=None)
    assert Invitation.objects.count() == 2
    assert json.loads(body)["id"] in set(InboundEvent.objects.values_list("message_id", flat=True))
