"""An erase or unsubscribe that lands while a dispatch batch is running stops that person's email:
the check happens right before each message, not once per batch."""

from collections.abc import Callable
from typing import Any

import pytest
from django.core.mail import get_connection
from django.test import Client

from customers.models import Person
from customers.services.erasure import person_erase
from integrations.models import Source
from surveys.models import Invitation
from surveys.services import dispatch
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import invitation_make, person_make, survey_make
from tests.surveys.factories_pages import page_invitation, page_path, page_survey

pytestmark = pytest.mark.django_db


def erase(client: Client, person: Person) -> None:
    person_erase(source=person.source, user_id=person.user_id or "", requested_by="staff admin")


def unsubscribe(client: Client, person: Person) -> None:
    """From the link of an earlier survey email the person still has."""
    earlier = page_invitation(survey=page_survey(name="Earlier NPS", slug="earlier"), person=person)
    assert client.post(f"{page_path(earlier)}unsubscribe/").status_code == 200


def unsubscribe_the_same_address_elsewhere(client: Client, person: Person) -> None:
    """The same mailbox is a customer of another source too, and unsubscribes there."""
    other = Source.objects.create(name="App", slug="app")
    unsubscribe(client, Person.objects.create(source=other, user_id="app-1", email=person.email))


class AfterFirstMessage:
    """Django's SMTP connection, which does `action` once the first message went out (while the
    dispatcher still holds the rest of its batch)."""

    def __init__(self, action: Callable[[], None]) -> None:
        self.connection = get_connection()
        self.action: Callable[[], None] | None = action

    def __getattr__(self, name: str) -> Any:
        return getattr(self.connection, name)

    def send_messages(self, messages: list[Any]) -> int:
        sent = int(self.connection.send_messages(messages))
        if self.action is not None:
            action, self.action = self.action, None
            action()
        return sent


@pytest.mark.parametrize(
    ("what", "reason"),
    [
        (erase, "person erased on request"),
        (unsubscribe, "unsubscribed"),
        (unsubscribe_the_same_address_elsewhere, "unsubscribed"),
    ],
)
def test_a_person_erased_or_unsubscribed_while_the_batch_runs_gets_no_email(
    smtp: SmtpRecorder, client: Client, monkeypatch: pytest.MonkeyPatch, what: Any, reason: str
) -> None:
    survey = survey_make()
    first = invitation_make(survey=survey, person=person_make(email="first@example.com"))
    second = invitation_make(survey=survey, person=person_make(email="second@example.com"))
    third = invitation_make(survey=survey, person=person_make(email="third@example.com"))
    assert second.person is not None
    person = second.person
    monkeypatch.setattr(dispatch, "get_connection", lambda: AfterFirstMessage(lambda: what(client, person)))

    report = dispatch.invitations_dispatch_due()

    assert [str(m["To"]) for m in smtp.messages] == ["first@example.com", "third@example.com"]
    assert report.sent == [first.pk, third.pk]
    second.refresh_from_db()
    assert second.status == Invitation.Status.CANCELLED
    assert report.cancelled == {second.pk: reason}


def test_an_address_that_bounced_earlier_in_the_batch_is_not_mailed_again(smtp: SmtpRecorder) -> None:
    """Two surveys due for one mailbox: the first is refused (550), so the second is not tried."""
    smtp.refuse.add("gone@example.com")
    person = person_make(email="gone@example.com")
    refused = invitation_make(survey=survey_make(), person=person)
    again = invitation_make(survey=survey_make(name="Support NPS", slug="support"), person=person)

    report = dispatch.invitations_dispatch_due()

    assert list(report.failed) == [refused.pk]
    again.refresh_from_db()
    assert again.status == Invitation.Status.CANCELLED
    assert again.error.startswith("suppressed: email bounced on ")
