"""Test data for testimonials: a promoter who answered with a comment, and their consent given through
the thank-you page's own form (the Django test client posts it as a browser without JavaScript would)."""

from typing import Any

from django.test import Client
from django.urls import reverse

from customers.models import Account, Membership, Person
from surveys.models import Invitation, Response, Survey
from surveys.services.responses import response_followup_save, response_record
from surveys.services.tokens import invitation_token_make
from testimonials.models import Testimonial
from testimonials.services import testimonials_moderate
from tests.surveys.factories_pages import page_invitation, page_person, page_source, page_survey

COMMENT = "The onboarding call was great, and support answers within minutes."


def answered(
    *,
    rating: int = 10,
    comment: str = COMMENT,
    survey: Survey | None = None,
    person: Person | None = None,
    **person_fields: Any,
) -> tuple[Invitation, Response, str]:
    """A person's answer and the token of their survey link."""
    survey = survey or Survey.objects.filter(slug="customer-nps").first() or page_survey()
    if person is None:
        number = Person.objects.count() + 1
        values = {
            "user_id": f"u-{number}",
            "email": f"ann{number}@example.com",
            "first_name": "Ann",
            "last_name": "Peeters",
            **person_fields,
        }
        person = page_person(**values)
    invitation = page_invitation(survey=survey, person=person)
    response = response_record(invitation=invitation, rating=rating)
    if comment:
        response = response_followup_save(response=response, comment=comment, tag_ratings={})
    return invitation, response, invitation_token_make(invitation=invitation)


def account_join(person: Person, name: str = "Acme Corp") -> Account:
    account = Account.objects.create(source=page_source(), group_id=f"g-{person.pk}", name=name)
    Membership.objects.create(person=person, account=account)
    return account


def consent_post(client: Client, token: str, **fields: str) -> Any:
    data = {"consent": "yes", "name_display": "first_initial", "company": "Acme Corp", **fields}
    return client.post(reverse("testimonials:consent", args=[token]), data)


def approved_quote(**answer: Any) -> Testimonial:
    """A consented quote (through the page's form), approved by staff."""
    _, response, token = answered(**answer)
    assert consent_post(Client(), token).status_code == 302
    testimonial = Testimonial.objects.get(response=response)
    testimonials_moderate(testimonials=[testimonial], action="approve")
    testimonial.refresh_from_db()
    return testimonial


def embed_json(client: Client, **params: str) -> Any:
    return client.get(reverse("testimonials:embed_json"), params)
