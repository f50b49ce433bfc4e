"""What staff do to invitations by hand."""

from collections.abc import Iterable

from surveys.models import Invitation


def invitations_cancel(*, ids: Iterable[int], reason: str) -> int:
    """Cancel the scheduled invitations among `ids`, `reason` kept as their error; returns how many.
    One being sent (claimed) is past the point of no return; one sent or closed stays as it is."""
    return Invitation.objects.filter(pk__in=list(ids), status=Invitation.Status.SCHEDULED).update(
        status=Invitation.Status.CANCELLED, error=reason
    )
