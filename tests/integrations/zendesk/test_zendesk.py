"""The Zendesk source (integrations/zendesk/handler.py): a trigger on "ticket solved" calls a
collector's webhook link, signed; the requester is invited. Pure parsing and verifying first, then the
whole way: signed call -> event log -> invitation scheduled."""

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from hub.errors import RequestError
from integrations.inbound import InboundContact, NoContact, WebhookRequest
from integrations.models import InboundEvent
from integrations.zendesk.handler import ZendeskHandler, signature_make
from surveys.models import Collector, Invitation, Survey
from surveys.services.collector_links import collector_create
from tests.conftest import FIXTURES
from tests.integrations.intercom.support import CaptureOnCommit, link
from tests.surveys.factories import survey_make

SECRET = "zendesk-signing-secret-123"
HANDLER = ZendeskHandler()


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / "zendesk" / f"{name}.json").read_bytes()


def stamp_of(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def signed_headers(
    body: bytes, *, at: datetime, invocation: str = "8350205582", secret: str = SECRET
) -> dict[str, str]:
    """The headers Zendesk sends with a webhook request (developer.zendesk.com, anatomy of a request)."""
    stamp = stamp_of(at)
    return {
        "X-Zendesk-Account-Id": "123456",
        "X-Zendesk-Webhook-Id": "01F1KRFQ6BG29CNWFR60NK5FNY",
        "X-Zendesk-Webhook-Invocation-Id": invocation,
        "X-Zendesk-Webhook-Signature": signature_make(body=body, timestamp=stamp, secret=secret),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


def request_of(body: bytes, headers: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(method="POST", query={}, headers=headers, body=body)


# --- pure: verify and parse ------------------------------------------------------------------------


def test_the_documented_signature_is_base64_hmac_sha256_of_timestamp_and_body() -> None:
    body, now = fixture_bytes("ticket_solved"), timezone.now()
    headers = signed_headers(body, at=now)

    HANDLER.verify(request=request_of(body, headers), secret=SECRET, now=now)  # no error

    with pytest.raises(RequestError) as tampered:
        HANDLER.verify(request=request_of(body + b" ", headers), secret=SECRET, now=now)
    assert (tampered.value.status, tampered.value.code) == (401, "invalid_signature")
    with pytest.raises(RequestError) as other_secret:
        HANDLER.verify(request=request_of(body, headers), secret="another", now=now)
    assert other_secret.value.code == "invalid_signature"


def test_a_timestamp_far_from_the_hubs_clock_is_refused_even_when_signed() -> None:
    body, now = fixture_bytes("ticket_solved"), timezone.now()
    headers = signed_headers(body, at=now - timedelta(minutes=6))

    with pytest.raises(RequestError) as stale:
        HANDLER.verify(request=request_of(body, headers), secret=SECRET, now=now)

    assert (stale.value.status, stale.value.code) == (401, "stale_timestamp")


@pytest.mark.parametrize("name", sorted(path.stem for path in (FIXTURES / "zendesk").glob("*.json")))
def test_every_fixture_parses_to_a_ticket_solved_call(name: str) -> None:
    body = fixture_bytes(name)
    call = HANDLER.parse(request=request_of(body, signed_headers(body, at=timezone.now())))

    assert (call.topic, call.name, call.message_id) == (
        "ticket.solved",
        "zendesk ticket.solved",
        "zendesk-8350205582",
    )
    assert call.properties["ticket"] == json.loads(body)["ticket"]["id"]
    if name.endswith("no_email"):
        assert call.contact == NoContact("the ticket's requester has no email")
    else:
        assert isinstance(call.contact, InboundContact)
        assert call.contact.email.lower().endswith("@example.be")


def test_a_topic_without_a_table_entry_is_read_as_no_customer() -> None:
    body = json.dumps(
        {"ticket": {"id": "1", "status": "Pending", "requester": {"email": "a@example.com"}}}
    ).encode()
    call = HANDLER.parse(request=request_of(body, {}))

    assert (call.topic, call.contact) == ("ticket.pending", None)


# --- the whole way ---------------------------------------------------------------------------------

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey() -> Survey:
    return survey_make()


@pytest.fixture
def zendesk(survey: Survey) -> Collector:
    return collector_create(
        survey=survey, name="Zendesk: solved tickets", kind="zendesk", secrets={"signing_secret": SECRET}
    )


def zendesk_post(
    client: Client, collector: Collector, body: bytes, capture: CaptureOnCommit, **signing: Any
) -> Any:
    headers = signed_headers(body, at=signing.pop("at", timezone.now()), **signing)
    with capture(execute=True):
        return client.post(
            link(collector, "webhook_link"), body, content_type="application/json", headers=headers
        )


def test_a_signed_ticket_solved_call_invites_the_requester(
    client: Client, zendesk: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    assert "source=zendesk&action=addContactToCollector" in link(zendesk, "webhook_link")
    assert zendesk.topic_actions == {"ticket.solved": "addContactToCollector"}

    response = zendesk_post(
        client, zendesk, fixture_bytes("ticket_solved"), django_capture_on_commit_callbacks
    )

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    [event] = InboundEvent.objects.filter(source=zendesk.source)
    assert (event.event, event.message_id, event.status) == (
        "zendesk ticket.solved",
        "zendesk-8350205582",
        "processed",
    )
    assert event.reason.startswith("invited: invitation")
    assert event.payload["properties"]["signed"] is True
    [invitation] = Invitation.objects.select_related("person")
    person = invitation.person
    assert person is not None
    assert (person.email, person.name, person.traits["language"]) == (
        "lotte.claes@example.be",
        "Lotte Claes",
        "nl",
    )
    assert invitation.trigger_event_id == event.pk


def test_the_same_invocation_twice_is_one_event_and_a_second_solve_no_second_invitation(
    client: Client, zendesk: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    body = fixture_bytes("ticket_solved")
    first = zendesk_post(client, zendesk, body, django_capture_on_commit_callbacks)
    replayed = zendesk_post(client, zendesk, body, django_capture_on_commit_callbacks)

    assert (first.json()["status"], replayed.json()["status"]) == ("accepted", "duplicate")
    assert InboundEvent.objects.filter(source=zendesk.source).count() == 1

    # Reopened and solved again: another invocation, recorded, but the open invitation stands alone.
    again = zendesk_post(client, zendesk, body, django_capture_on_commit_callbacks, invocation="8350205999")

    assert again.json()["status"] == "accepted"
    assert InboundEvent.objects.filter(source=zendesk.source).count() == 2
    assert Invitation.objects.count() == 1
    latest = InboundEvent.objects.filter(source=zendesk.source).latest("pk")
    assert latest.reason.startswith("not invited")


@pytest.mark.parametrize(
    ("signing", "code"),
    [
        ({"secret": "not-the-secret"}, "invalid_signature"),
        ({"at": timezone.now() - timedelta(hours=1)}, "stale_timestamp"),
        ({"at": timezone.now() + timedelta(hours=1)}, "stale_timestamp"),
    ],
    ids=["wrong secret", "an hour old", "an hour ahead"],
)
def test_a_bad_signature_or_a_stale_timestamp_is_refused_with_nothing_stored(
    client: Client,
    zendesk: Collector,
    django_capture_on_commit_callbacks: CaptureOnCommit,
    signing: dict[str, Any],
    code: str,
) -> None:
    response = zendesk_post(
        client, zendesk, fixture_bytes("ticket_solved"), django_capture_on_commit_callbacks, **signing
    )

    assert response.status_code == 401
    assert response.json()["code"] == code
    assert set(response.json()) == {"code", "message"}
    assert not InboundEvent.objects.exists()
    assert not Invitation.objects.exists()


def test_an_unsigned_call_is_refused_and_so_is_another_kinds_call(
    client: Client, zendesk: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    body = fixture_bytes("ticket_solved")
    unsigned = client.post(link(zendesk, "webhook_link"), body, content_type="application/json")
    intercom = client.post(
        link(zendesk, "webhook_link").replace("source=zendesk", "source=intercom"),
        body,
        content_type="application/json",
    )

    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "invalid_signature")
    assert (intercom.status_code, intercom.json()["code"]) == (400, "wrong_source")
    assert not InboundEvent.objects.exists()


def test_a_requester_without_email_is_recorded_as_rejected_and_zendesk_gets_a_200(
    client: Client, zendesk: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    response = zendesk_post(
        client, zendesk, fixture_bytes("ticket_solved__no_email"), django_capture_on_commit_callbacks
    )

    assert response.status_code == 200
    [event] = InboundEvent.objects.all()
    assert (event.status, event.reason) == ("rejected", "no contact: the ticket's requester has no email")


def test_a_zendesk_collector_needs_its_signing_secret_in_the_api_and_never_shows_it(
    api_client: APIClient, survey: Survey
) -> None:
    body = {"survey": survey.slug, "name": "Zendesk", "kind": "zendesk"}
    refused = api_client.post("/api/collectors/", body, format="json")
    assert refused.status_code == 400
    assert "signing_secret" in json.dumps(refused.json()["errors"]["secrets"])

    created = api_client.post(
        "/api/collectors/", {**body, "secrets": {"signing_secret": SECRET}}, format="json"
    )
    assert created.status_code == 201, created.content
    assert created.json()["secret_keys"] == ["signing_secret"]
    assert SECRET not in created.content.decode()
    assert "source=zendesk" in created.json()["webhook_link"]
    assert Collector.objects.get().topic_actions == {"ticket.solved": "addContactToCollector"}


def test_erasing_the_requester_leaves_nothing_of_the_ticket_call(
    client: Client, zendesk: Collector, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    from customers.services.erasure import person_erase_record

    zendesk_post(client, zendesk, fixture_bytes("ticket_solved"), django_capture_on_commit_callbacks)
    [invitation] = Invitation.objects.select_related("person")
    assert invitation.person is not None

    person_erase_record(person=invitation.person, requested_by="test")

    [event] = InboundEvent.objects.filter(source=zendesk.source)
    kept = json.dumps(event.payload).lower() + event.reason.lower() + event.user_id
    assert "lotte" not in kept
    assert "claes" not in kept
