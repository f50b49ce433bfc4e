"""A quote leaves every embed at once, and the ETag changes, when the person withdraws their consent
(the link on the thank-you page), unsubscribes, is erased, or staff hide it."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils.html import escape

from customers.models import Person
from customers.services.erasure import person_erase
from surveys.models import Invitation
from surveys.services.tokens import invitation_token_make
from testimonials.models import Testimonial
from testimonials.services import testimonials_moderate
from testimonials.tokens import withdraw_token_make
from tests.testimonials.helpers import COMMENT, approved_quote, embed_json

pytestmark = pytest.mark.django_db


def shown(client: Client) -> tuple[list[str], str]:
    got = embed_json(client)
    frame = client.get(reverse("testimonials:embed_frame")).content.decode()
    quotes = [item["quote"] for item in got.json()["testimonials"]]
    assert all(escape(quote) in frame for quote in quotes)  # the iframe shows the same
    return quotes, got["ETag"]


def test_the_withdrawal_link_on_the_thank_you_page_takes_the_quote_out(client: Client) -> None:
    testimonial = approved_quote()
    kept = approved_quote(comment="Another customer's quote.")
    before, etag = shown(client)
    assert COMMENT in before
    token = invitation_token_make(invitation=testimonial.response.invitation)
    thanks = client.get(reverse("surveys:thanks", args=[token])).content.decode()
    link = reverse("testimonials:withdraw", args=[withdraw_token_make(testimonial=testimonial)])
    assert f'href="{link}"' in thanks

    confirm = client.get(link)
    assert confirm.status_code == 200
    assert "Withdraw your consent?" in confirm.content.decode()
    assert COMMENT in shown(client)[0]  # opening the link (a mail scanner) withdraws nothing
    done = client.post(link)

    assert done.status_code == 200
    assert "Your consent is withdrawn" in done.content.decode()
    after, new_etag = shown(client)
    assert after == ["Another customer's quote."]
    assert new_etag != etag
    testimonial.refresh_from_db()
    assert testimonial.status == Testimonial.Status.WITHDRAWN
    assert testimonial.withdrawn_by == Testimonial.WithdrawnBy.PERSON
    assert testimonial.withdrawn_at
    assert (testimonial.quote, testimonial.original, testimonial.display_name, testimonial.company) == (
        "",
        "",
        "",
        "",
    )
    assert testimonial.consent_text  # the record of the consent stays
    assert "Your consent is withdrawn" in client.get(reverse("surveys:thanks", args=[token])).content.decode()
    kept.refresh_from_db()
    assert kept.status == Testimonial.Status.APPROVED


def test_staff_cannot_bring_a_withdrawn_quote_back() -> None:
    testimonial = approved_quote()
    Client().post(reverse("testimonials:withdraw", args=[withdraw_token_make(testimonial=testimonial)]))

    assert testimonials_moderate(testimonials=[testimonial], action="approve") == 0
    assert testimonials_moderate(testimonials=[testimonial], action="feature") == 0
    assert embed_json(Client()).json()["testimonials"] == []


@pytest.mark.parametrize("token", ["", "abc", "1:forged", "9" * 40, "\x00"])
def test_an_altered_withdrawal_link_is_a_friendly_404(client: Client, token: str) -> None:
    approved_quote()

    got = client.post(f"/t/{token}/withdraw/") if token else client.get("/t/x/withdraw/")

    assert got.status_code == 404
    assert len(embed_json(client).json()["testimonials"]) == 1


def test_unsubscribing_takes_the_quote_out(client: Client) -> None:
    testimonial = approved_quote()
    _, etag = shown(client)
    token = invitation_token_make(invitation=testimonial.response.invitation)

    assert client.post(reverse("surveys:unsubscribe", args=[token])).status_code == 200

    quotes, new_etag = shown(client)
    assert quotes == []
    assert new_etag != etag
    testimonial.refresh_from_db()
    assert (testimonial.status, testimonial.withdrawn_by) == ("withdrawn", "unsubscribe")


def test_unsubscribing_another_record_with_the_same_email_takes_the_quote_out(client: Client) -> None:
    testimonial = approved_quote()
    assert testimonial.person is not None
    twin = Person.objects.create(
        source=testimonial.person.source, user_id="twin", email=testimonial.person.email
    )
    invitation = Invitation.objects.create(
        survey=testimonial.survey, person=twin, due_at=testimonial.consented_at
    )

    client.post(reverse("surveys:unsubscribe", args=[invitation_token_make(invitation=invitation)]))

    assert shown(client)[0] == []


def test_erasing_the_person_deletes_the_testimonial(client: Client) -> None:
    testimonial = approved_quote()
    _, etag = shown(client)
    assert testimonial.person is not None

    person = testimonial.person
    receipt = person_erase(source=person.source, user_id=str(person.user_id), requested_by="staff ops")

    quotes, new_etag = shown(client)
    assert quotes == []
    assert new_etag != etag
    assert not Testimonial.objects.exists()
    assert receipt.erased["testimonials_deleted"] == 1


def test_staff_hiding_takes_the_quote_out_and_approving_brings_it_back(client: Client) -> None:
    testimonial = approved_quote()
    _, etag = shown(client)

    testimonials_moderate(testimonials=[testimonial], action="hide")

    quotes, hidden_etag = shown(client)
    assert quotes == []
    assert hidden_etag != etag
    testimonials_moderate(testimonials=[testimonial], action="approve")
    assert shown(client) == ([COMMENT], etag)
