"""Reopening the unsubscribe link after unsubscribing says since when, instead of asking again."""

from datetime import UTC, datetime

import pytest
import time_machine
from django.test import Client

from customers.models import Suppression
from surveys.models import Invitation
from tests.surveys.factories_pages import page_invitation, page_path, page_person, page_survey

pytestmark = pytest.mark.django_db


def test_reopening_the_link_says_you_are_unsubscribed_since_the_date(client: Client) -> None:
    link = f"{page_path(page_invitation())}unsubscribe/"
    with time_machine.travel(datetime(2026, 3, 4, 10, 0, tzinfo=UTC)):
        assert client.post(link, {}).status_code == 200

    with time_machine.travel(datetime(2026, 6, 1, tzinfo=UTC)):
        page = client.get(link).content.decode()

    assert "You are unsubscribed since March 4, 2026" in page
    assert "<button" not in page  # nothing to ask again
    assert Suppression.objects.filter(reason="unsubscribed").count() == 2  # and nothing recorded again


def test_the_date_is_in_the_survey_language_of_the_person(client: Client) -> None:
    person = page_person(language="nl")
    link = f"{page_path(page_invitation(survey=page_survey(dutch=True), person=person))}unsubscribe/"
    with time_machine.travel(datetime(2026, 3, 4, 10, 0, tzinfo=UTC)):
        client.post(link, {})

    page = client.get(link).content.decode()

    assert '<html lang="nl">' in page
    assert "4 maart 2026" in page


def test_another_invitation_of_the_same_address_also_says_so(client: Client) -> None:
    first = page_invitation()
    with time_machine.travel(datetime(2026, 3, 4, 10, 0, tzinfo=UTC)):
        client.post(f"{page_path(first)}unsubscribe/", {})
    # The same mailbox in another survey and another record (unsubscribing is hub-wide per address).
    other = page_invitation(
        survey=page_survey(name="Support NPS", slug="support-nps"),
        person=page_person(user_id="u-99", email="ANN@example.com"),
        status=Invitation.Status.SENT,
    )

    page = client.get(f"{page_path(other)}unsubscribe/").content.decode()

    assert "You are unsubscribed since March 4, 2026" in page


def test_a_person_who_did_not_unsubscribe_is_still_asked(client: Client) -> None:
    page = client.get(f"{page_path(page_invitation())}unsubscribe/").content.decode()

    assert "Unsubscribe from surveys?" in page
    assert "since" not in page
