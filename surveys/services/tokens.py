"""Signed, expiring links bound to one invitation (django.core.signing)."""

from django.core import signing

from hub.cleaning import parse_id
from surveys.models import Invitation

_SALT = "surveys.invitation"


class TokenInvalid(Exception):
    """The link was altered, or belongs to nothing we know."""


class TokenExpired(Exception):
    """The link was genuine but is older than the survey's expiry."""


def invitation_token_make(*, invitation: Invitation) -> str:
    return signing.TimestampSigner(salt=_SALT).sign(str(invitation.pk))


def invitation_token_read(*, token: str) -> Invitation:
    """The invitation a link names; raises TokenInvalid or TokenExpired (per-survey expiry)."""
    signer = signing.TimestampSigner(salt=_SALT)
    try:
        value = signer.unsign(token)
    except signing.BadSignature as exc:
        raise TokenInvalid(str(exc)) from exc
    pk = parse_id(value)
    invitation = (
        Invitation.objects.select_related("survey", "person").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if invitation is None:
        raise TokenInvalid("no such invitation")
    try:
        signer.unsign(token, max_age=invitation.survey.token_expiry_days * 86_400)
    except signing.SignatureExpired as exc:
        raise TokenExpired(str(exc)) from exc
    return invitation
