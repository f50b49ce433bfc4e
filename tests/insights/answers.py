"""Answers in one line each, for the report tests: a person (new unless given) answering at a time."""

from datetime import datetime
from typing import Any

from customers.models import Person
from surveys.models import Response, Survey
from surveys.services.responses import answers_supersede
from tests.surveys.factories import invitation_make, person_make


def answer_make(
    *,
    survey: Survey,
    rating: int,
    at: datetime,
    person: Person | None = None,
    comment: str = "",
    **fields: Any,
) -> Response:
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
    answers_supersede(Response.objects.filter(survey=survey, person=person))
    answer.refresh_from_db()
    return answer


def answers_make(*, survey: Survey, ratings: dict[int, int], at: datetime, **fields: Any) -> list[Response]:
    """{rating: how many people} answering at `at`, each a new person."""
    return [
        answer_make(survey=survey, rating=rating, at=at, **fields)
        for rating, many in ratings.items()
        for _ in range(many)
    ]
