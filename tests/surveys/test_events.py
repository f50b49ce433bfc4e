"""The hub's own events reach a subscribed signed webhook: an answer, a changed answer, a sent
invitation, an opt-out; each change is one delivery however often it is reported."""

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from pytest_httpserver import HTTPServer

from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination
from surveys.models import Invitation, Response
from surveys.services.dispatch import invitations_dispatch_due
from surveys.services.events import response_changed_emit
from surveys.services.responses import response_followup_save, response_record
from tests.integrations.delivery.conftest import SECRET, destination_create, standard_webhooks_verify
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import due_invitations_make
from tests.surveys.factories_pages import page_click, page_invitation, page_path

pytestmark = pytest.mark.django_db

ALL_EVENTS = ["response.created", "response.updated", "invitation.sent", "person.unsubscribed"]


@pytest.fixture
def hook(httpserver: HTTPServer) -> Destination:
    httpserver.expect_request("/hooks/feedback", method="POST").respond_with_data("ok")
    return destination_create(httpserver.url_for("/hooks/feedback"), call_types=ALL_EVENTS)


def received(httpserver: HTTPServer) -> list[dict[str, Any]]:
    """Every body the receiver got, each verified as a Standard Webhooks receiver would."""
    return [standard_webhooks_verify(request, SECRET, now=time.time()) for request, _ in httpserver.log]


def test_a_click_on_a_score_is_delivered_as_a_signed_response_created_after_commit(
    hook: Destination,
    httpserver: HTTPServer,
    client: Client,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    invitation = page_invitation()

    with django_capture_on_commit_callbacks(execute=True):  # the engine's task runs (eagerly) on commit
        assert page_click(client, page_path(invitation), 9).status_code == 302

    response = Response.objects.get()
    ((request, _),) = httpserver.log
    assert request.headers["webhook-id"] == f"response.created:{response.pk}"
    (body,) = received(httpserver)
    assert body["type"] == "response.created"
    assert body["data"] == {
        "response_id": response.pk,
        "invitation_id": invitation.pk,
        "survey": "customer-nps",
        "rating": 9,
        "band": "promoter",
        "comment": "",
        "tag_ratings": {},
        "language": "en",
        "answered_at": response.answered_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "updated_at": response.updated_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "person": {"user_id": "u-42", "email": "ann@example.com", "source": "web-app"},
    }
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_a_link_scanner_emits_no_event_the_person_s_click_one(
    hook: Destination, httpserver: HTTPServer, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    invitation = page_invitation()
    base = page_path(invitation)

    with django_capture_on_commit_callbacks(execute=True):
        for score in range(11):  # a mail scanner: every link, no cookies, no JavaScript
            assert Client().get(f"{base}?score={score}").status_code == 200
    assert not Delivery.objects.exists()
    assert httpserver.log == []

    with django_capture_on_commit_callbacks(execute=True):
        page_click(Client(enforce_csrf_checks=True), base, 6)  # the person, in a browser

    (body,) = received(httpserver)
    assert (body["type"], body["data"]["rating"]) == ("response.created", 6)


def test_changing_the_rating_and_adding_a_comment_are_response_updated(
    hook: Destination, httpserver: HTTPServer
) -> None:
    invitation = page_invitation()
    response = response_record(invitation=invitation, rating=9)
    response_record(invitation=invitation, rating=9)  # the same click again: nothing changed
    response = response_record(invitation=invitation, rating=4)
    response = response_followup_save(response=response, comment=" Too slow ", tag_ratings={"Support": 2})
    response_followup_save(response=response, comment="Too slow", tag_ratings={"Support": 2})  # resent form

    assert deliveries_deliver_due() == 3
    bodies = received(httpserver)
    assert [(b["type"], b["data"]["rating"], b["data"]["comment"]) for b in bodies] == [
        ("response.created", 9, ""),
        ("response.updated", 4, ""),
        ("response.updated", 4, "Too slow"),
    ]
    assert bodies[1]["data"]["band"] == "detractor"
    assert bodies[2]["data"]["tag_ratings"] == {"Support": 2}


def test_dispatching_an_invitation_delivers_invitation_sent(
    hook: Destination, httpserver: HTTPServer, smtp: SmtpRecorder
) -> None:
    (invitation,) = due_invitations_make(1)

    assert list(invitations_dispatch_due().sent) == [invitation.pk]

    assert deliveries_deliver_due() == 1
    (body,) = received(httpserver)
    invitation.refresh_from_db()
    assert invitation.sent_at is not None
    assert body["type"] == "invitation.sent"
    assert body["data"] == {
        "invitation_id": invitation.pk,
        "survey": "onboarding",
        "language": "en",
        "sent_at": invitation.sent_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "person": {"user_id": "u-1", "email": "person1@example.com", "source": "web-app"},
    }


def test_unsubscribing_delivers_person_unsubscribed_once(
    hook: Destination, httpserver: HTTPServer, client: Client
) -> None:
    invitation = page_invitation()
    page_invitation(
        survey=invitation.survey, person=invitation.person, status=Invitation.Status.SCHEDULED, sent_at=None
    )

    client.post(f"{page_path(invitation)}unsubscribe/")
    client.post(f"{page_path(invitation)}unsubscribe/")  # again: already suppressed

    assert deliveries_deliver_due() == 1
    (body,) = received(httpserver)
    assert body["type"] == "person.unsubscribed"
    data = body["data"]
    assert data["person"] == {"user_id": "u-42", "email": "ann@example.com", "source": "web-app"}
    assert (data["survey"], data["invitation_id"], data["cancelled_invitations"]) == (
        "customer-nps",
        invitation.pk,
        1,
    )
    assert data["unsubscribed_at"].endswith("Z")


def test_the_same_change_reported_twice_is_one_delivery(hook: Destination, httpserver: HTTPServer) -> None:
    response = response_record(invitation=page_invitation(), rating=7)
    response = response_record(invitation=response.invitation, rating=8)

    response_changed_emit(response=response, created=True)  # e.g. a retried request
    response_changed_emit(response=response, created=False)

    assert Delivery.objects.count() == 2
    assert deliveries_deliver_due() == 2
    assert deliveries_deliver_due() == 0
    assert [b["type"] for b in received(httpserver)] == ["response.created", "response.updated"]


def test_a_change_that_rolls_back_leaves_no_delivery(hook: Destination) -> None:
    invitation = page_invitation()

    def answer_then_fail() -> None:
        with transaction.atomic():
            response_record(invitation=invitation, rating=10)
            raise RuntimeError("the request failed after the answer")

    with pytest.raises(RuntimeError):
        answer_then_fail()

    assert not Response.objects.exists()
    assert not Delivery.objects.exists()


def test_destinations_not_subscribed_get_nothing(httpserver: HTTPServer) -> None:
    destination_create(httpserver.url_for("/hooks/other"), call_types=["invitation.sent"])
    response_record(invitation=page_invitation(), rating=10)
    assert not Delivery.objects.exists()


def test_erasing_the_person_empties_their_queued_hub_events(hook: Destination) -> None:
    from customers.services.erasure import person_erase

    invitation = page_invitation()
    response = response_record(invitation=invitation, rating=3)
    response_followup_save(response=response, comment="My phone is 0470 12 34 56", tag_ratings={})
    person = invitation.person
    assert person is not None
    assert Delivery.objects.count() == 2

    receipt = person_erase(source=person.source, user_id=person.user_id or "", requested_by="staff test")

    assert receipt.erased["hub_event_deliveries_erased"] == 2
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
    assert all(payload == {"erased": True} for payload in Delivery.objects.values_list("payload", flat=True))
    assert deliveries_deliver_due() == 0
