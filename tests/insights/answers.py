"""Answers for the report tests: `answer_make` (tests/surveys/factories.py, a person answering at a time)
and many at once."""

from datetime import datetime
from typing import Any

from surveys.models import Response, Survey
from tests.surveys.factories import answer_make


def answers_make(*, survey: Survey, ratings: dict[int, int], at: datetime, **fields: Any) -> list[Response]:
    """{rating: how many people} answering at `at`, each a new person."""
    return [
        answer_make(survey=survey, rating=rating, at=at, **fields)
        for rating, many in ratings.items()
        for _ in range(many)
    ]
