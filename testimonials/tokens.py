"""The withdrawal link of a testimonial: signed, and never expiring (consent can be withdrawn at any
time, long after the survey's links have expired), like an unsubscribe link."""

from django.core import signing

from hub.cleaning import parse_id
from testimonials.models import Testimonial

_SALT = "testimonials.withdraw"


def withdraw_token_make(*, testimonial: Testimonial) -> str:
    return signing.Signer(salt=_SALT).sign(str(testimonial.pk))


def withdraw_token_read(*, token: str) -> Testimonial | None:
    """The testimonial a withdrawal link names; None for an altered link or one whose testimonial is
    gone (its person erased)."""
    try:
        value = signing.Signer(salt=_SALT).unsign(token)
    except signing.BadSignature:
        return None
    pk = parse_id(value)
    return (
        Testimonial.objects.select_related("survey", "response__invitation").filter(pk=pk).first()
        if pk
        else None
    )
