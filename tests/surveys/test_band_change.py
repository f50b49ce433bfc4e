"""A comment given for one band's question is never sent as the answer to another's: after a change
of score to another band it is kept aside (not sent) until the person keeps or changes it."""

import re

import pytest
from django.test import Client

from surveys.models import Response
from surveys.services.events import response_data
from surveys.services.sync_back_batches import identify_event
from tests.surveys.factories_pages import page_invitation, page_path

pytestmark = pytest.mark.django_db


def sent(response: Response) -> tuple[str, str]:
    """The comment as the hub events and the sync-back would send it now."""
    row = dict(
        Response.objects.filter(pk=response.pk).values(
            "id", "rating", "comment", "comment_band", "rated_at", "updated_at"
        )[0]
    )
    event = identify_event(destination_id=1, row=row, user_id="u-42", anonymous_id=None)
    return response_data(response=response)["comment"], event["traits"]["NPS_comment"]


def note_shown(page: str) -> bool:
    """The note "You wrote this for the question ..." is on the page and not hidden."""
    note = re.search(r'<p [^>]*id="comment-earlier"[^>]*>', page)
    return note is not None and " hidden" not in note.group(0)


def test_a_score_changed_to_another_band_holds_the_comment_back_until_kept(client: Client) -> None:
    base = page_path(page_invitation())
    assert client.post(base, {"rating": "9", "comment": "Great support"}).status_code == 302
    response = Response.objects.get()
    assert response.comment_band == "promoter"
    assert sent(response) == ("Great support", "Great support")

    # The email's 3: the score alone (step "rating"), then the page.
    assert client.post(base, {"rating": "3", "step": "rating"}).status_code == 302
    response.refresh_from_db()
    assert response.comment == "Great support"  # kept, not lost
    assert sent(response) == ("", "")  # but not sent as the answer to "What could we do better?"

    page = client.get(base).content.decode()
    assert "What could we do better?" in page
    assert "You wrote this for the question “What do you like most about us?”" in page
    assert note_shown(page)
    assert ">Great support</textarea>" in page

    # Kept as it is for the new question (Send without JavaScript): sent again.
    assert client.post(base, {"rating": "3", "comment": "Great support"}).status_code == 302
    response.refresh_from_db()
    assert response.comment_band == "detractor"
    assert sent(response) == ("Great support", "Great support")
    assert not note_shown(client.get(base).content.decode())


def test_a_change_within_the_band_keeps_sending_the_comment(client: Client) -> None:
    base = page_path(page_invitation())
    client.post(base, {"rating": "9", "comment": "Great support"})
    client.post(base, {"rating": "10", "step": "rating"})

    response = Response.objects.get()
    assert sent(response) == ("Great support", "Great support")
    assert not note_shown(client.get(base).content.decode())


def test_answers_from_before_the_band_was_kept_are_sent_as_before(client: Client) -> None:
    base = page_path(page_invitation())
    client.post(base, {"rating": "9", "comment": "Great support"})
    Response.objects.update(comment_band="", rating=2)

    assert sent(Response.objects.get()) == ("Great support", "Great support")
