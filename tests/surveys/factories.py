"""A survey, a person, an invitation and an answer in one line each, with sensible defaults to override."""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from customers.models import Person
from integrations.models import Source
from surveys.models import Invitation, Response, Survey
from surveys.services.responses import answer_supersede


def survey_make(**fields: Any) -> Survey:
    defaults: dict[str, Any] = {
        "name": "Onboarding NPS",
        "slug": "onboarding",
        "automation_enabled": True,
        "company_name": "Acme",
        "sender_name": "Acme Feedback",
        "sender_email": "feedback@acme.example",
        "reply_to": "support@acme.example",
        "logo_url": "https://acme.example/logo.png",
        "accent_color": "#ff6600",
        "footer": "Acme Ltd, Main Street 1, Gent",
    }
    return Survey.objects.create(**{**defaults, **fields})


def person_make(*, source: Source | None = None, **fields: Any) -> Person:
    if source is None:
        source, _ = Source.objects.get_or_create(slug="web-app", defaults={"name": "Web app"})
    number = Person.objects.count() + 1
    defaults: dict[str, Any] = {"user_id": f"u-{number}", "email": f"person{number}@example.com"}
    return Person.objects.create(source=source, **{**defaults, **fields})


def invitation_make(
    *, survey: Survey, person: Person | None, due_at: datetime | None = None, **fields: Any
) -> Invitation:
    due_at = due_at or timezone.now() - timedelta(minutes=1)
    return Invitation.objects.create(survey=survey, person=person, due_at=due_at, **fields)


def due_invitations_make(count: int, *, survey: Survey | None = None) -> list[Invitation]:
    """`count` people, each with a due invitation of `survey`."""
    survey = survey or survey_make()
    return [invitation_make(survey=survey, person=person_make()) for _ in range(count)]


def answer_make(
    *,
    survey: Survey,
    rating: int,
    at: datetime,
    person: Person | None = None,
    comment: str = "",
    **fields: Any,
) -> Response:
    """An answer of `person` (a new one unless given) at `at`, with its responded invitation."""
    person = person or person_make()
    invitation = invitation_make(survey=survey, person=person, status="responded", sent_at=at)
    answer = Response.objects.create(
        invitation=invitation,
        survey=survey,
        person=person,
        rating=rating,
        comment=comment,
        answered_at=at,
        rated_at=at,
        **fields,
    )
    # As recording an answer does (surveys/services/responses.py), at any `at`, in any order.
    answer_supersede(answer)
    answer.refresh_from_db()
    return answer
