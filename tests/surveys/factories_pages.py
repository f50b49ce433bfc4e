"""Test data for the public survey pages: a source, a person, a survey with tags, a sent invitation."""

from typing import Any

from django.utils import timezone

from customers.models import Person
from integrations.models import Source
from integrations.services import source_create
from surveys.models import Invitation, Survey, SurveyTranslation
from surveys.services.tokens import invitation_token
from tests.sources import DEFAULT_SLUG


def page_source(slug: str = DEFAULT_SLUG) -> Source:
    source = Source.objects.filter(slug=slug).first()
    return source or source_create(name=slug.title(), slug=slug)[0]


def page_person(*, source: Source | None = None, **fields: Any) -> Person:
    values = {"user_id": "u-42", "email": "ann@example.com", "language": "en", **fields}
    return Person.objects.create(source=source or page_source(), **values)


def page_survey(*, dutch: bool = False, **fields: Any) -> Survey:
    values = {
        "name": "Customer NPS",
        "slug": "customer-nps",
        "company_name": "Acme",
        "tags": ["Support", "Price"],
        "tag_scale": 5,
        "logo_url": "https://cdn.example.com/acme-logo.png",
        "accent_color": "#0b7a53",
        "footer": "Acme Ltd · 1 Main Street, Springfield",
        **fields,
    }
    survey = Survey.objects.create(**values)
    if dutch:
        SurveyTranslation.objects.create(
            survey=survey,
            language="nl",
            question="Hoe waarschijnlijk is het dat je {{ company }} aanbeveelt?",
            followup_detractor="Wat kunnen we beter doen?",
            followup_passive="Wat zou je enthousiaster maken?",
            followup_promoter="Wat vind je het beste aan ons?",
            thank_you="Bedankt voor je feedback!",
        )
    return survey


def page_invitation(
    *, survey: Survey | None = None, person: Person | None = None, **fields: Any
) -> Invitation:
    now = timezone.now()
    values = {"status": Invitation.Status.SENT, "due_at": now, "sent_at": now, "language": "en", **fields}
    return Invitation.objects.create(survey=survey or page_survey(), person=person or page_person(), **values)


def page_path(invitation: Invitation) -> str:
    """The invitation's answer page; "thanks/" and "unsubscribe/" follow it. Tokens carry the time they
    were made, so a test takes one path and reuses it."""
    return f"/s/{invitation_token(invitation)}/"
