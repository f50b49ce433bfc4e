"""The hub's own survey events, handed to the delivery engine (integrations/deliveries.py).

Each function is called inside the transaction that makes the change it reports, so a delivery
exists if and only if the change commits; the engine sends it after commit. The data shapes are
documented in docs/operations.md ("Hub events"); change them only additively, receivers parse them.

Idempotency keys name the change, not the call: the same change reported twice (a retried
request, a dispatcher that re-sends after a crash) is one delivery per destination. Each event goes
only to the destinations of its person's source (tenancy).
"""

from datetime import datetime
from typing import Any

from customers.models import Person, Suppression
from hub.pipeline import RESPONSE_HOOKS, pipeline_functions
from integrations.deliveries import deliveries_enqueue
from integrations.models import Destination
from surveys.models import Invitation, Response


def _time(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with milliseconds, as Segment and the webhook envelope write times."""
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z") if value else None


def hub_event_subscribed(*, event_type: str) -> bool:
    """Whether any enabled destination, of any source, receives `event_type`: lets a loop skip the
    per-item transaction and lookup when nobody listens (a destination added mid-loop counts from the
    next)."""
    subscriptions = Destination.objects.filter(enabled=True).values_list("call_types", flat=True)
    return any(event_type in (call_types or ()) for call_types in subscriptions)


def _source_id(about: Response | Invitation) -> int | None:
    """The source whose destinations hear of an answer or invitation: its person's (None: erased,
    and nobody hears of an erased person)."""
    return about.person.source_id if about.person is not None else None


def person_data(*, person: Person | None) -> dict[str, Any] | None:
    if person is None:  # erased
        return None
    return {"user_id": person.user_id, "email": person.email, "source": person.source.slug}


def response_data(*, response: Response) -> dict[str, Any]:
    return {
        "response_id": response.pk,
        "invitation_id": response.invitation_id,
        "survey": response.survey.slug,
        "rating": response.rating,
        "band": response.band,
        "comment": response.comment_sent,  # empty while it answers another band's question
        "tag_ratings": dict(response.tag_ratings or {}),
        "language": response.language,
        "answered_at": _time(response.answered_at),
        "updated_at": _time(response.updated_at),
        "person": person_data(person=response.person),
    }


def response_changed_emit(*, response: Response, created: bool, previous_rating: int | None = None) -> None:
    """`response.created` for the first answer, `response.updated` for each later change; then the
    later stages' RESPONSE_HOOKS (hub/pipeline.py: cases, auto-replies, alerts), in the same
    transaction. `previous_rating`: the score before this change, when the change was of the score."""
    if created:
        event_type, key = "response.created", f"response.created:{response.pk}"
    else:
        event_type, key = (
            "response.updated",
            f"response.updated:{response.pk}:{response.updated_at.isoformat()}",
        )
    source_id = _source_id(response)
    if source_id is not None:
        deliveries_enqueue(
            event_type=event_type,
            data=response_data(response=response),
            idempotency_key=key,
            source_id=source_id,
        )
    for hook in pipeline_functions(RESPONSE_HOOKS):
        hook(response=response, created=created, previous_rating=previous_rating)


def invitation_sent_emit(*, invitation: Invitation, sent_at: datetime, language: str) -> None:
    """Once per invitation: a dispatcher re-sending after a crash reports the same key."""
    source_id = _source_id(invitation)
    if source_id is None:
        return
    data = {
        "invitation_id": invitation.pk,
        "survey": invitation.survey.slug,
        "language": language,
        "sent_at": _time(sent_at),
        "person": person_data(person=invitation.person),
    }
    deliveries_enqueue(
        event_type="invitation.sent",
        data=data,
        idempotency_key=f"invitation.sent:{invitation.pk}",
        source_id=source_id,
    )


def person_unsubscribed_emit(
    *, person: Person, invitation: Invitation, suppression: Suppression, cancelled: int
) -> None:
    """Once per opt-out, keyed by the first suppression it created (unsubscribing again creates none)."""
    data = {
        "person": person_data(person=person),
        "survey": invitation.survey.slug,
        "invitation_id": invitation.pk,
        "unsubscribed_at": _time(suppression.created_at),
        "cancelled_invitations": cancelled,
    }
    deliveries_enqueue(
        event_type="person.unsubscribed",
        data=data,
        idempotency_key=f"person.unsubscribed:{person.pk}:{suppression.pk}",
        source_id=person.source_id,
    )
