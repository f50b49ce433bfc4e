"""What an answer sets off, run in the answer's own transaction (hub/pipeline.py RESPONSE_HOOKS), so
all of it exists if and only if the answer commits: its case (a detractor's), its auto-reply and the
alerts of the rules it matches. The case comes first: alerts link to it."""

from actions.services.alerts import alerts_evaluate
from actions.services.autoreplies import auto_reply_schedule
from actions.services.cases import case_open
from surveys.models import Response


def response_react(*, response: Response, created: bool, previous_rating: int | None = None) -> None:
    """`previous_rating`: the score before this change, when the change was of the score."""
    case_open(response=response)
    if created:
        auto_reply_schedule(response=response)
    alerts_evaluate(response=response, previous_rating=previous_rating)
