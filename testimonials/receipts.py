"""The consent email: right after a person agrees to be quoted, one email thanks them and carries their
quote and the withdrawal link, so they can withdraw long after the survey's own links expired.

Sent once per testimonial: a sender claims the row (`due` → `sending`, a conditional UPDATE) before
sending, and the Message-ID is derived from the testimonial, so the one possible repeat (a crash
between sending and recording it, then the sweeper) carries the same Message-ID. Nothing is sent to an
erased, unsubscribed or bounced address, nor after a withdrawal. Logs name ids, never addresses.
"""

import logging
from datetime import datetime, timedelta
from email.utils import formataddr

from django.conf import settings
from django.core.mail import EmailMessage
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from customers.selectors import person_suppression_keys, suppressions_for
from hub.errors import error_text
from hub.mail import message_id
from surveys.services.dispatch import survey_sender
from testimonials.models import Testimonial
from testimonials.tokens import withdraw_token_make

_RECEIPT_ERROR_MAX = Testimonial._meta.get_field("receipt_error").max_length
logger = logging.getLogger(__name__)

# A claim older than this was lost with its sender (a crash, a killed worker): the sweeper retries it.
CLAIM_TIMEOUT = timedelta(minutes=10)
# The sweeper leaves the task enqueued on commit this long to do its work first.
SWEEP_AFTER = timedelta(minutes=2)


def withdraw_url(*, testimonial: Testimonial) -> str:
    token = withdraw_token_make(testimonial=testimonial)
    return f"{settings.HUB_BASE_URL}{reverse('testimonials:withdraw', args=[token])}"


def receipt_message_id(*, testimonial: Testimonial) -> str:
    return message_id(what=f"testimonial-{testimonial.pk}.{testimonial.survey.slug}")


def receipt_email(*, testimonial: Testimonial) -> EmailMessage:
    """The consent email of one testimonial, in the language of the page the person agreed on."""
    person = testimonial.person
    if person is None:
        raise ValueError("the person of this testimonial was erased")
    survey = testimonial.survey
    language = testimonial.consent_language or settings.LANGUAGE_CODE
    if not translation.check_for_language(language):
        language = settings.LANGUAGE_CODE
    context = {
        "testimonial": testimonial,
        "company": survey.company_name,
        "withdraw_url": withdraw_url(testimonial=testimonial),
        "footer": survey.footer,
    }
    with translation.override(language):
        subject = render_to_string("testimonials/email/receipt_subject.txt", context).strip()
        body = render_to_string("testimonials/email/receipt.txt", context)
    return EmailMessage(
        subject=" ".join(subject.split()),
        body=body,
        from_email=survey_sender(survey),
        to=[formataddr((person.name, person.email))],
        reply_to=[survey.reply_to] if survey.reply_to else None,
        headers={
            "Message-ID": receipt_message_id(testimonial=testimonial),
            "Content-Language": testimonial.consent_language or "en",
        },
    )


def _claim(query: Q, now: datetime) -> bool:
    return (
        Testimonial.objects.filter(query).update(receipt=Testimonial.Receipt.SENDING, receipt_claimed_at=now)
        == 1
    )


def _finish(testimonial_id: int, receipt: str, **fields: object) -> None:
    Testimonial.objects.filter(pk=testimonial_id, receipt=Testimonial.Receipt.SENDING).update(
        receipt=receipt, **fields
    )


def testimonial_receipt_send(*, testimonial_id: int, now: datetime | None = None) -> str:
    """Send the consent email of one testimonial if it is still due (or its claim was lost); returns
    what became of it: sent, not_sent, failed, or "" when it was not this call's to send."""
    now = now or timezone.now()
    due = Q(pk=testimonial_id) & (
        Q(receipt=Testimonial.Receipt.DUE)
        | Q(receipt=Testimonial.Receipt.SENDING, receipt_claimed_at__lt=now - CLAIM_TIMEOUT)
    )
    if not _claim(due, now):
        return ""
    testimonial = Testimonial.objects.select_related("survey", "person").get(pk=testimonial_id)
    person = testimonial.person
    if (
        person is None
        or not person.email
        or testimonial.status == Testimonial.Status.WITHDRAWN
        or suppressions_for(person_suppression_keys(person)).first(person_suppression_keys(person))
    ):
        _finish(testimonial_id, Testimonial.Receipt.NOT_SENT)
        return Testimonial.Receipt.NOT_SENT
    try:
        receipt_email(testimonial=testimonial).send()
    except Exception as exc:  # SMTP or ESP trouble: recorded on the row, retried by nobody
        error = error_text(exc)
        logger.warning("consent email of testimonial %s failed: %s", testimonial_id, error)
        _finish(testimonial_id, Testimonial.Receipt.FAILED, receipt_error=error[:_RECEIPT_ERROR_MAX])
        return Testimonial.Receipt.FAILED
    _finish(testimonial_id, Testimonial.Receipt.SENT, receipt_sent_at=timezone.now())
    return Testimonial.Receipt.SENT


def testimonial_receipts_sweep(*, now: datetime | None = None) -> int:
    """Safety net (beat): send the consent emails whose task was lost (broker down) or whose sender
    died; returns how many were sent."""
    now = now or timezone.now()
    stale = Testimonial.objects.filter(
        Q(receipt=Testimonial.Receipt.DUE, consented_at__lt=now - SWEEP_AFTER)
        | Q(receipt=Testimonial.Receipt.SENDING, receipt_claimed_at__lt=now - CLAIM_TIMEOUT)
    ).values_list("pk", flat=True)
    results = [testimonial_receipt_send(testimonial_id=pk, now=now) for pk in list(stale[:500])]
    return results.count(Testimonial.Receipt.SENT)
