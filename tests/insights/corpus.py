"""A corpus the theme tests build: comments drawn from a few topics, each with its known words, given
with scores whose band depends on the topic, spread over this period and the one before."""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from customers.models import Person
from integrations.models import Source
from surveys.models import Invitation, Response, Survey, score_band
from tests.insights.texts import TOPICS, topic_texts

# Scores per topic, taken in turn: billing and speed come from detractors, support from promoters.
RATINGS = {
    "billing": [2, 4, 6, 5, 9],
    "support": [10, 9, 9, 8],
    "speed": [3, 6, 1, 7],
    "reports": [8, 9, 7],
    "onboarding": [7, 8, 10, 4],
    "mobile": [9, 5, 8],
}


@dataclass(frozen=True)
class Comment:
    response_id: int
    topic: str
    band: str
    answered_at: datetime


def topic_comments_make(
    survey: Survey,
    *,
    current: int = 200,
    previous: int = 100,
    now: datetime | None = None,
    days: int = 30,
    seed: int = 7,
    topics: tuple[str, ...] = tuple(TOPICS),
    previous_topics: tuple[str, ...] = ("support", "speed", "reports", "onboarding", "mobile"),
) -> list[Comment]:
    """`current` comments over the last `days` days and `previous` over the `days` before (without
    billing: it is new this period), written in bulk (no task runs: the job analyses them first)."""
    now = now or timezone.now()
    rng = random.Random(seed)  # noqa: S311 - a fixed corpus, not a secret
    source, _ = Source.objects.get_or_create(slug="corpus", defaults={"name": "Corpus"})
    plan = [(True, topics[i % len(topics)]) for i in range(current)]
    plan += [(False, previous_topics[i % len(previous_topics)]) for i in range(previous)]
    start = Person.objects.count()
    people = Person.objects.bulk_create(
        Person(source=source, user_id=f"corpus-{start + i}") for i in range(len(plan))
    )
    invitations = Invitation.objects.bulk_create(
        Invitation(survey=survey, person=person, due_at=now, status=Invitation.Status.RESPONDED)
        for person in people
    )
    texts = topic_texts([topic for _, topic in plan], seed=seed)
    turns = dict.fromkeys(TOPICS, 0)
    responses = []
    for (is_current, topic), person, invitation, text in zip(plan, people, invitations, texts, strict=True):
        rating = RATINGS[topic][turns[topic] % len(RATINGS[topic])]
        turns[topic] += 1
        age = timedelta(days=rng.uniform(0.1, days - 0.1) + (0 if is_current else days))
        responses.append(
            Response(
                invitation=invitation,
                survey=survey,
                person=person,
                rating=rating,
                comment=text,
                language="en",
                answered_at=now - age,
                rated_at=now - age,
            )
        )
    made = Response.objects.bulk_create(responses)
    return [
        Comment(response.pk, topic=topic, band=score_band(response.rating), answered_at=response.answered_at)
        for (_, topic), response in zip(plan, made, strict=True)
    ]
