"""A promoter's thank-you page asks whether the company may quote them (works without JavaScript: these
are the page's own forms, posted as a browser without scripts would). No consent, no testimonial."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from customers.models import Suppression
from customers.services.suppressions import suppressions_record
from testimonials.models import Testimonial, TestimonialSettings
from tests.surveys.factories_pages import page_survey
from tests.testimonials.helpers import COMMENT, account_join, answered, consent_post

pytestmark = pytest.mark.django_db


def thanks(client: Client, token: str) -> str:
    page = client.get(reverse("surveys:thanks", args=[token]))
    assert page.status_code == 200
    return page.content.decode()


def test_a_promoter_is_asked_after_the_comment_with_the_names_and_company_to_choose(client: Client) -> None:
    _invitation, response, token = answered(rating=9)
    account_join(response.person)  # type: ignore[arg-type]

    page = thanks(client, token)

    assert "May we quote you?" in page
    assert "The onboarding call was great" in page
    assert "Ann Peeters" in page
    assert "Ann P." in page
    assert "Anonymous" in page
    assert 'value="Acme Corp"' in page  # their account, offered as the company to show
    assert "Acme may quote my answer above publicly" in page
    assert 'name="consent"' in page
    assert "required" in page


@pytest.mark.parametrize(("rating", "comment"), [(8, COMMENT), (3, COMMENT), (10, "")])
def test_passives_detractors_and_promoters_without_a_comment_are_not_asked(
    client: Client, rating: int, comment: str
) -> None:
    _, _, token = answered(rating=rating, comment=comment)

    assert "May we quote you?" not in thanks(client, token)


def test_the_asked_bands_are_set_per_survey(client: Client) -> None:
    survey = page_survey()
    TestimonialSettings.objects.create(survey=survey, bands=["passive", "promoter"])
    other = page_survey(name="Other", slug="other")
    TestimonialSettings.objects.create(survey=other, bands=[])

    assert "May we quote you?" in thanks(client, answered(survey=survey, rating=7)[2])
    assert "May we quote you?" not in thanks(client, answered(survey=other, rating=10)[2])


def test_consent_stores_the_quote_the_wording_as_shown_its_time_and_the_name_chosen(client: Client) -> None:
    _, response, token = answered(rating=10)
    before = timezone.now()

    sent = consent_post(client, token, name_display="first_initial", company="Acme Corp")

    assert sent.status_code == 302
    assert sent["Location"].endswith(f"/s/{token}/thanks/#quote")
    testimonial = Testimonial.objects.get()
    assert testimonial.response == response
    assert testimonial.status == Testimonial.Status.PENDING
    assert testimonial.original == testimonial.quote == COMMENT
    assert (testimonial.display_name, testimonial.company) == ("Ann P.", "Acme Corp")
    assert testimonial.consent_text.startswith("Acme may quote my answer above publicly")
    assert testimonial.consent_language == "en"
    assert before <= testimonial.consented_at <= timezone.now()
    page = thanks(client, token)
    assert "Thank you for letting us quote you" in page
    assert "Withdraw my consent" in page
    assert "May we quote you?" not in page


def test_the_wording_is_the_one_shown_in_the_surveys_language(client: Client) -> None:
    survey = page_survey(dutch=True)
    TestimonialSettings.objects.create(
        survey=survey, consent_translations={"nl": "{company} mag mijn antwoord publiek citeren."}
    )
    _, _, token = answered(survey=survey, language="nl-BE")

    assert "Acme mag mijn antwoord publiek citeren." in thanks(client, token)
    consent_post(client, token, name_display="anonymous", company="")

    testimonial = Testimonial.objects.get()
    assert (testimonial.consent_text, testimonial.consent_language) == (
        "Acme mag mijn antwoord publiek citeren.",
        "nl",
    )
    assert testimonial.display_name == ""


def test_without_the_consent_box_ticked_nothing_is_stored_and_the_page_says_why(client: Client) -> None:
    _, _, token = answered()

    sent = client.post(reverse("testimonials:consent", args=[token]), {"name_display": "full"})

    assert sent.status_code == 302
    assert not Testimonial.objects.exists()
    page = client.get(sent["Location"]).content.decode()
    assert "Tick the box to let us quote you" in page
    assert "May we quote you?" in page


@pytest.mark.parametrize(
    "data",
    [
        {"consent": "yes", "name_display": "nickname"},
        {"consent": "yes", "name_display": "full", "company": "x" * 500},
        {"consent": "yes", "name_display": "full\x00"},
        {"consent": "", "name_display": "full"},
    ],
)
def test_odd_forms_store_nothing_and_never_fail(client: Client, data: dict[str, str]) -> None:
    _, _, token = answered()

    sent = client.post(reverse("testimonials:consent", args=[token]), data)

    assert sent.status_code == 302
    assert not Testimonial.objects.exists()


def test_a_detractor_posting_the_form_anyway_gets_no_testimonial(client: Client) -> None:
    _, _, token = answered(rating=2)

    assert consent_post(client, token).status_code == 302
    assert not Testimonial.objects.exists()


def test_an_unsubscribed_person_is_not_asked(client: Client) -> None:
    _, response, token = answered()
    assert response.person is not None
    suppressions_record(reason=Suppression.Reason.UNSUBSCRIBED, emails=[response.person.email])

    assert "May we quote you?" not in thanks(client, token)
    consent_post(client, token)
    assert not Testimonial.objects.exists()


def test_the_same_consent_sent_twice_is_one_testimonial(client: Client) -> None:
    _, _, token = answered()

    consent_post(client, token)
    consent_post(client, token, name_display="full")

    assert Testimonial.objects.get().display_name == "Ann P."


def test_an_altered_link_gets_the_survey_pages_error_not_a_testimonial(client: Client) -> None:
    _, _, token = answered()

    sent = consent_post(client, token[:-3] + "abc")

    assert sent.status_code == 404
    assert "This link does not work" in sent.content.decode()
    assert not Testimonial.objects.exists()


def test_the_consent_form_needs_its_csrf_token() -> None:
    _, _, token = answered()
    client = Client(enforce_csrf_checks=True)

    assert consent_post(client, token).status_code == 403
    assert not Testimonial.objects.exists()
