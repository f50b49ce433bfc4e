"""What surveys do when customer records merge or are erased."""

from typing import Any

from django.db.models import Q
from django.utils import timezone

from customers.models import Person
from customers.services.erasure import events_scrub
from hub.db import json_mentions
from integrations.deliveries import deliveries_erase
from integrations.models import ERASED_REASON, InboundEvent
from surveys.models import Collector, Invitation, Response
from surveys.services.responses import answers_supersede


def person_merge_surveys(*, keep: Person, gone: Person, **kwargs: Any) -> None:
    """Invitations and responses follow the person; two open invitations of one survey become one.

    A moved response has changed (its person did), so its updated_at moves too: the sync-back, which
    reads changes by updated_at, then sends the survivor's latest answer under the survivor's id,
    with a new messageId, even when it was synced before under the merged person's id.
    """
    open_surveys = set(
        Invitation.objects.filter(person=keep, status__in=Invitation.OPEN).values_list("survey_id", flat=True)
    )
    Invitation.objects.filter(person=gone, status__in=Invitation.OPEN, survey_id__in=open_surveys).update(
        status=Invitation.Status.CANCELLED, error="merged into another person's invitation"
    )
    Invitation.objects.filter(person=gone).update(person=keep)
    Response.objects.filter(person=gone).update(person=keep, updated_at=timezone.now())
    # Each survey's answers of both are now one person's: which answer is whose latest changes.
    answers_supersede(Response.objects.filter(person=keep))


def person_erase_surveys(*, person: Person, **kwargs: Any) -> dict[str, int]:
    """GDPR: cancel pending invitations and drop their error texts (an SMTP refusal quotes the address);
    erase free-text answers and tag ratings, unlink scores (they stay counted); empty the hub events
    queued or sent about them; scrub the collector calls that name their email."""
    Invitation.objects.filter(person=person).exclude(error="").update(error=ERASED_REASON)
    cancelled = Invitation.objects.filter(person=person, status__in=Invitation.OPEN).update(
        status=Invitation.Status.CANCELLED, error="person erased on request", claimed_at=timezone.now()
    )
    responses = Response.objects.filter(person=person)
    response_ids = list(responses.values_list("pk", flat=True))
    invitation_ids = list(Invitation.objects.filter(person=person).values_list("pk", flat=True))
    # The hub events already queued for destinations carry the person's email and answers.
    deliveries = deliveries_erase(
        idempotency_keys=[f"response.created:{r}" for r in response_ids]
        + [f"invitation.sent:{i}" for i in invitation_ids],
        key_prefixes=[f"response.updated:{r}:" for r in response_ids] + [f"person.unsubscribed:{person.pk}:"],
    )
    comments = responses.exclude(comment="").count()
    unlinked = responses.update(
        person=None, comment="", tag_ratings={}, superseded_at=None, hub_superseded_at=None
    )
    Invitation.objects.filter(person=person).update(person=None)
    return {
        "invitations_cancelled": cancelled,
        "comments_erased": comments,
        "responses_unlinked": unlinked,
        "hub_event_deliveries_erased": deliveries,
        "collector_calls_erased": collector_calls_erase(email=person.email) if person.email else 0,
    }


def collector_calls_erase(*, email: str) -> int:
    """Collector calls keep the whole body they came with (an Intercom notification, a form): every
    call to any collector that mentions the address is scrubbed, whoever it was logged under and
    whatever became of it (collector off, rejected, ignored topic)."""
    collector_sources = Collector.objects.exclude(source=None).values("source_id")
    calls = InboundEvent.objects.filter(source_id__in=collector_sources).filter(
        json_mentions("payload", [email])
    )
    return events_scrub(query=Q(pk__in=calls.values("pk")))
