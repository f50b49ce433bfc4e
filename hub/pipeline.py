"""The processing pipeline, named once: what runs on every batch of claimed events, in this order, and
who else acts when two people merge, one is erased or unsubscribes, and what later stages add to a
survey's thank-you page and admin page. Dotted paths, imported on first use, so that a lower layer
runs a higher one's code without importing it (docs/architecture.md draws this list).

Customer records come first: the handlers after them read the people it recorded, and forwarding
reads what it found about people erased on request (`InboundEvent.erasure`) instead of asking again.
"""

from collections.abc import Callable
from functools import cache
from typing import Any

from django.utils.module_loading import import_string

# handler(events): the whole batch, in timestamp order, inside the processing transaction.
PIPELINE: tuple[str, ...] = (
    "customers.services.records.people_process_events",  # people, identities, accounts, erasure
    "surveys.services.triggers.surveys_process_events",  # triggers → eligibility → invitations
    "integrations.forwarding.segment_events_forward",  # Segment calls → deliveries
)
# hook(keep=Person, gone=Person): later stages move their rows to the person kept.
PERSON_MERGE_HOOKS: tuple[str, ...] = (
    "surveys.services.people.person_merge_surveys",
    "testimonials.services.person_merge_testimonials",
)
# hook(person=Person) -> {"what": count}: later stages erase their rows ("Personal data" in
# docs/architecture.md says which step erases which table).
PERSON_ERASE_HOOKS: tuple[str, ...] = (
    "actions.services.erasure.person_erase_actions",  # before the surveys step unlinks the answers
    "surveys.services.people.person_erase_surveys",
    "surveys.services.sync_back.sync_back_erase",
    "insights.services.comments.comment_analyses_erase",  # after the answers' comments are emptied
    "testimonials.services.person_erase_testimonials",
)
# hook(person=Person): later stages react to a person unsubscribing (inside its transaction).
PERSON_UNSUBSCRIBE_HOOKS: tuple[str, ...] = ("testimonials.services.person_unsubscribe_testimonials",)
# part(request, invitation=Invitation, look=Look) -> safe HTML: what later stages add to a survey's
# thank-you page, in this order.
THANKS_PAGE_PARTS: tuple[str, ...] = ("testimonials.views.thanks_part",)
# part(request, survey=Survey) -> safe HTML: what later stages add to a survey's admin page.
SURVEY_ADMIN_PARTS: tuple[str, ...] = ("testimonials.admin.survey_embed_snippets",)

# hook(response=Response, created=bool, previous_rating=int | None): later stages act on an answer (its
# case, auto-reply, alerts) inside the transaction that stores it (surveys/services/events.py).
RESPONSE_HOOKS: tuple[str, ...] = ("actions.services.reactions.response_react",)


@cache
def pipeline_functions(paths: tuple[str, ...]) -> tuple[Callable[..., Any], ...]:
    """The functions these dotted paths name (imported once)."""
    return tuple(import_string(path) for path in paths)
