"""Auto-replies: one email to the customer a while after they answered, by band and language.

auto_reply_schedule(response=r)      on the first answer (hub/pipeline.py RESPONSE_HOOKS): one
    `AutoReplySend` row per answer (unique), due the reply's delay after the answer (default 30 min).
auto_replies_send_due()              the beat, every minute: claims due rows (FOR UPDATE SKIP LOCKED,
    scheduled → sending), then for each reads the answer's band *now*, picks the reply for that band
    and the customer's language, and sends it, unless the person was erased or their address is
    suppressed (unsubscribed, bounced: `customers.selectors.suppressions_for`, checked right before
    each message). Never twice: a row is sent once; a crash between the server's acceptance and the
    row's update resends the same Message-ID (<auto-reply-<row>.<survey>@host>), as the dispatcher.
"""

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from anymail.exceptions import AnymailRecipientsRefused
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from actions.models import AutoReply, AutoReplySend
from actions.services.mail import customer_email_send, personalised
from customers.selectors import person_suppression_keys, suppressions_for
from hub.errors import error_text
from surveys.models import Response
from surveys.services.bounces import email_bounced

logger = logging.getLogger(__name__)

DEFAULT_DELAY_MINUTES = 30
MAX_ATTEMPTS = 5
RETRY_MINUTES = 5


def auto_reply_pick(*, survey_id: int, band: str, language: str) -> AutoReply | None:
    """The enabled reply for this band: the survey's own before a hub-wide one, the language (or its
    primary subtag: fr-BE → fr) before a reply without a language."""
    primary = language.split("-")[0].lower()
    candidates = AutoReply.objects.filter(enabled=True, band=band).filter(
        Q(survey=None) | Q(survey_id=survey_id)
    )

    def rank(reply: AutoReply) -> tuple[int, int, int]:
        own = 0 if reply.survey_id is not None else 1
        lang = reply.language.lower()
        fit = 0 if lang == language.lower() else 1 if lang == primary else 2 if lang == "" else 9
        return own, fit, reply.pk

    ranked = sorted((r for r in candidates if rank(r)[1] < 9), key=rank)
    return ranked[0] if ranked else None


def reply_language(response: Response) -> str:
    """The customer's own language (their trait), else the one the survey was shown in."""
    person = response.person
    return (person.language if person is not None else "") or response.language


def auto_reply_schedule(*, response: Response) -> AutoReplySend | None:
    """The answer's one auto-reply, scheduled (None when no auto-reply could concern its survey)."""
    replies = AutoReply.objects.filter(enabled=True).filter(Q(survey=None) | Q(survey_id=response.survey_id))
    if not replies.exists():
        return None
    reply = auto_reply_pick(
        survey_id=response.survey_id, band=response.band, language=reply_language(response)
    )
    delay = reply.delay_minutes if reply is not None else DEFAULT_DELAY_MINUTES
    send, _ = AutoReplySend.objects.get_or_create(
        response=response, defaults={"due_at": response.answered_at + timedelta(minutes=delay)}
    )
    return send


@dataclass
class AutoReplyReport:
    """What one run did, by row id (never an address)."""

    sent: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    retried: dict[int, str] = field(default_factory=dict)


def _claim(now: datetime, limit: int) -> list[int]:
    stale = now - timedelta(seconds=settings.SURVEY_CLAIM_TIMEOUT_SECONDS)
    due = Q(status=AutoReplySend.Status.SCHEDULED, due_at__lte=now) | Q(
        status=AutoReplySend.Status.SENDING, claimed_at__lt=stale
    )
    with transaction.atomic():
        ids = list(
            AutoReplySend.objects.select_for_update(skip_locked=True)
            .filter(due)
            .order_by("due_at")
            .values_list("pk", flat=True)[:limit]
        )
        AutoReplySend.objects.filter(pk__in=ids).update(status=AutoReplySend.Status.SENDING, claimed_at=now)
    return ids


def _end(send: AutoReplySend, status: str, reason: str, **fields: object) -> None:
    AutoReplySend.objects.filter(pk=send.pk, status=AutoReplySend.Status.SENDING).update(
        status=status, reason=reason, **fields
    )


def auto_replies_send_due(*, now: datetime | None = None, limit: int = 200) -> AutoReplyReport:
    """One run of the beat task (see the module's docstring)."""
    now = now or timezone.now()
    report = AutoReplyReport()
    for pk in _claim(now, limit):
        send = AutoReplySend.objects.select_related(
            "response__survey", "response__person", "response__invitation__survey"
        ).get(pk=pk)
        _send_one(send, now, report)
    return report


def _send_one(send: AutoReplySend, now: datetime, report: AutoReplyReport) -> None:
    response, person = send.response, send.response.person
    skip = ""
    reply = None
    if person is None or not person.email:
        skip = "person erased" if person is None else "no email address"
    else:
        suppression = suppressions_for(person_suppression_keys(person)).first(person_suppression_keys(person))
        if suppression is not None:
            skip = f"address suppressed ({suppression.reason})"
        else:
            language = reply_language(response)
            reply = auto_reply_pick(survey_id=response.survey_id, band=response.band, language=language)
            if reply is None:
                skip = f"no auto-reply for a {response.band} in '{language or 'any'}'"
    if skip or reply is None or person is None:
        _end(send, AutoReplySend.Status.SKIPPED, skip)
        report.skipped[send.pk] = skip
        return
    # One query right before the message, as the dispatcher makes: an erasure landing since
    # the claim skipped the row or unlinked the answer.
    wanted = AutoReplySend.objects.filter(
        pk=send.pk, status=AutoReplySend.Status.SENDING, response__person_id=person.pk
    )
    if not wanted.exists():
        report.skipped[send.pk] = "person erased"
        return
    send.attempts += 1
    AutoReplySend.objects.filter(pk=send.pk).update(attempts=send.attempts)
    try:
        customer_email_send(
            response=response,
            person=person,
            subject=personalised(reply.subject, person=person),
            body=personalised(reply.body, person=person),
            what=f"auto-reply-{send.pk}.{response.survey.slug}",
            language=reply.language or reply_language(response),
            auto=True,
        )
    except (smtplib.SMTPRecipientsRefused, AnymailRecipientsRefused) as exc:
        codes = (
            [c for c, _ in exc.recipients.values()]
            if isinstance(exc, smtplib.SMTPRecipientsRefused)
            else [550]
        )
        if all(code >= 500 for code in codes):
            email_bounced(email=person.email)
            _end(send, AutoReplySend.Status.FAILED, "recipient refused: suppressed as bounced")
            report.failed[send.pk] = "recipient refused"
            return
        _retry(send, now, f"recipient temporarily refused ({codes[0]})", report)
        return
    except Exception as exc:  # the server or the network: this row again later, given up after MAX_ATTEMPTS
        _retry(send, now, f"email server trouble: {error_text(exc)}", report)
        return
    _end(send, AutoReplySend.Status.SENT, "", sent_at=now, reply=reply)
    report.sent.append(send.pk)
    logger.info("sent auto-reply %s", send.pk)


def _retry(send: AutoReplySend, now: datetime, reason: str, report: AutoReplyReport) -> None:
    logger.warning("auto-reply %s not sent: %s", send.pk, reason)
    if send.attempts >= MAX_ATTEMPTS:
        _end(send, AutoReplySend.Status.FAILED, reason)
        report.failed[send.pk] = reason
        return
    _end(send, AutoReplySend.Status.SCHEDULED, reason, due_at=now + timedelta(minutes=RETRY_MINUTES))
    report.retried[send.pk] = reason
