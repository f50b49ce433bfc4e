"""What surveys do when customer records merge or are erased."""

from typing import Any

from django.utils import timezone

from customers.models import Person
from surveys.models import Invitation, Response


def person_merge_surveys(*, keep: Person, gone: Person, **kwargs: Any) -> None:
    """Invitations and responses follow the person; two open invitations of one survey become one."""
    open_surveys = set(
        Invitation.objects.filter(person=keep, status__in=Invitation.OPEN).values_list("survey_id", flat=True)
    )
    Invitation.objects.filter(person=gone, status__in=Invitation.OPEN, survey_id__in=open_surveys).update(
        status=Invitation.Status.CANCELLED, error="merged into another person's invitation"
    )
    Invitation.objects.filter(person=gone).update(person=keep)
    Response.objects.filter(person=gone).update(person=keep)


def person_erase_surveys(*, person: Person, **kwargs: Any) -> dict[str, int]:
    """GDPR: cancel pending invitations, erase free-text answers, unlink scores (they stay counted)."""
    cancelled = Invitation.objects.filter(person=person, status__in=Invitation.OPEN).update(
        status=Invitation.Status.CANCELLED, error="person erased on request", claimed_at=timezone.now()
    )
    responses = Response.objects.filter(person=person)
    comments = responses.exclude(comment="").count()
    unlinked = responses.update(person=None, comment="")
    Invitation.objects.filter(person=person).update(person=None)
    return {"invitations_cancelled": cancelled, "comments_erased": comments, "responses_unlinked": unlinked}
