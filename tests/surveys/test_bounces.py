"""Through an email API (django-anymail): a recipient the ESP refuses at send time, and a bounce it
reports later through its tracking webhook, suppress the address for every survey."""

import importlib
import json
from base64 import b64encode
from typing import Any

import pytest
from django.test import Client
from django.urls import clear_url_caches
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

import hub.urls
from customers.models import Suppression
from customers.selectors import suppressions_for
from surveys.models import Invitation
from surveys.services.dispatch import invitations_dispatch_due
from tests.surveys.factories import invitation_make, person_make, survey_make

pytestmark = pytest.mark.django_db

INACTIVE = (
    "You tried to send to recipient(s) that have been marked as inactive. Found inactive addresses: "
    "{address}. Inactive recipients are ones that have generated a hard bounce, a spam complaint, or a "
    "manual suppression."
)


def postmark_api(request: Request) -> Response:
    """Postmark's /email endpoint: 422 with ErrorCode 406 for an address it marked inactive."""
    to = json.loads(request.data)["To"]
    if "nobody@example.com" in to:
        body = {"ErrorCode": 406, "Message": INACTIVE.format(address="nobody@example.com")}
        return Response(json.dumps(body), status=422, content_type="application/json")
    body = {
        "To": to,
        "SubmittedAt": "2026-11-02T09:30:00Z",
        "MessageID": f"id-{to}",
        "ErrorCode": 0,
        "Message": "OK",
    }
    return Response(json.dumps(body), status=200, content_type="application/json")


def suppressed(email: str) -> Suppression | None:
    return suppressions_for([(None, "email", email)]).find(None, "email", email)


def test_a_recipient_the_esp_refuses_is_suppressed_and_the_rest_of_the_batch_is_sent(
    httpserver: HTTPServer, settings: Any
) -> None:
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "server-token", "POSTMARK_API_URL": httpserver.url_for("/")}
    httpserver.expect_request("/email", method="POST").respond_with_handler(postmark_api)
    survey = survey_make()
    first = invitation_make(survey=survey, person=person_make(email="first@example.com"))
    refused = invitation_make(survey=survey, person=person_make(email="nobody@example.com"))
    third = invitation_make(survey=survey, person=person_make(email="third@example.com"))

    report = invitations_dispatch_due()

    assert report.sent == [first.pk, third.pk]
    assert len(httpserver.log) == 3
    refused.refresh_from_db()
    assert refused.status == Invitation.Status.FAILED
    assert refused.error == "recipient refused by the email service: suppressed as bounced"
    found = suppressed("nobody@example.com")
    assert found is not None
    assert (found.source, found.reason) == (None, "bounced")


def postmark_bounce(email: str, kind: str = "HardBounce") -> str:
    """A Postmark bounce webhook, as Postmark documents it."""
    return json.dumps(
        {
            "RecordType": "Bounce",
            "ID": 4323372036854775807,
            "Type": kind,
            "TypeCode": 1,
            "Name": "Hard bounce",
            "Tag": "",
            "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
            "Metadata": {},
            "ServerID": 23,
            "MessageStream": "outbound",
            "Description": "The server was unable to deliver your message (ex: unknown user).",
            "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
            "Email": email,
            "From": "feedback@acme.example",
            "BouncedAt": "2026-11-02T16:33:54.9070259Z",
            "DumpAvailable": True,
            "Inactive": True,
            "CanActivate": True,
            "Subject": "How likely are you to recommend Acme?",
        }
    )


def basic(secret: str) -> str:
    return f"Basic {b64encode(secret.encode()).decode()}"


def test_a_bounce_the_esp_reports_later_suppresses_the_address_for_every_survey(client: Client) -> None:
    person = person_make(email="ann@example.com")
    waiting = invitation_make(survey=survey_make(), person=person)

    response = client.post(
        "/anymail/postmark/tracking/",
        postmark_bounce("Ann@Example.com"),
        content_type="application/json",
        headers={"Authorization": basic("test-only:webhook-secret")},
    )

    assert response.status_code == 200
    found = suppressed("ann@example.com")
    assert found is not None
    assert (found.source, found.reason) == (None, "bounced")
    waiting.refresh_from_db()
    assert waiting.status == Invitation.Status.CANCELLED
    assert waiting.error.startswith("suppressed: email bounced on ")
    assert invitations_dispatch_due().sent == []


def test_the_tracking_webhook_needs_its_secret_and_other_events_change_nothing(client: Client) -> None:
    for headers in ({}, {"Authorization": basic("test-only:wrong")}):
        response = client.post(
            "/anymail/postmark/tracking/",
            postmark_bounce("ann@example.com"),
            content_type="application/json",
            headers=headers,
        )
        assert response.status_code == 400
    delivered = json.loads(postmark_bounce("ann@example.com"))
    delivered.update(RecordType="Delivery", DeliveredAt="2026-11-02T16:33:54Z")
    response = client.post(
        "/anymail/postmark/tracking/",
        json.dumps(delivered),
        content_type="application/json",
        headers={"Authorization": basic("test-only:webhook-secret")},
    )
    assert response.status_code == 200
    assert not Suppression.objects.exists()


def test_without_a_webhook_secret_no_tracking_webhook_is_served(client: Client, settings: Any) -> None:
    settings.ANYMAIL = {}
    try:
        importlib.reload(hub.urls)
        clear_url_caches()
        response = client.post(
            "/anymail/postmark/tracking/", postmark_bounce("ann@example.com"), content_type="application/json"
        )
        assert response.status_code == 404
    finally:
        settings.ANYMAIL = {"WEBHOOK_SECRET": "test-only:webhook-secret"}
        importlib.reload(hub.urls)
        clear_url_caches()
    assert not Suppression.objects.exists()
