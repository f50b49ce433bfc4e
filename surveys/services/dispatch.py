"""Sending invitations: due rows become exactly one email each.

`invitations_dispatch_due` is one run of the beat task (every minute):

1. expire: invitations sent longer ago than the survey's token expiry, unanswered, become expired;
2. claim up to SURVEY_DISPATCH_BATCH due invitations in one transaction (FOR UPDATE SKIP LOCKED on
   PostgreSQL; SQLite's IMMEDIATE transactions serialise claimers): status scheduled → sending,
   claimed_at = now. A `sending` row whose claim is older than SURVEY_CLAIM_TIMEOUT_SECONDS belongs
   to a dispatcher that died and is claimed again;
3. re-check every person with `eligibility_decide(dispatching=True)`: cancelled with the reason, or
   moved to the next send window (scheduled again), or sent;
4. send the rest over one connection of Django's email backend. Before each message one primary-key
   query checks that the claim still stands: an erase, unsubscribe or bounce landing while the batch
   runs cancels the person's open invitations, so it stops that email; each row is marked sent right
   after the server accepted its message, and that statement checks the next message's claim too
   (surveys/services/claims.py: one round trip per message, the mark without waiting for its flush).
   Each survey's templates are rendered once per batch and language (`InvitationBodies`). Over
   Django's own SMTP backend the messages are bytes filled into a mold of that rendering, and the
   statement runs while the server answers MAIL FROM and RCPT TO (surveys/services/smtp.py); any
   other backend (anymail's ESPs, locmem, ...) gets Django's messages through send_messages.

One message's trouble stays with it: a message that cannot be built (a header with a line break)
fails with the reason; a refused recipient (5xx, or the ESP's refusal) fails and suppresses the
address hub-wide as bounced; a temporary refusal (4xx) gives that invitation back for a later run.
Anything else (the server or the network) gives the rest of the batch back. Logs, reports and
invitation errors name invitations by id, never by address.

Exactly once: the only window for a duplicate is a dispatcher killed after the server accepted a
message and before the row was marked sent (or PostgreSQL itself crashing within a moment of a
mark, `invitation_mark_sent`). The re-claim then sends that message again with the same Message-ID
(`<invitation-{pk}.{survey slug}@{hub host}>`), which receiving servers and people can recognise.
Everything else is either marked sent (never claimed again) or still claimable.
"""

import logging
import secrets
import smtplib
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.utils import formataddr, parseaddr
from functools import partial
from typing import TypedDict

from anymail.exceptions import AnymailRecipientsRefused
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpEmailBackend
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone

from customers.models import Person
from hub.errors import error_text
from hub.mail import message_id
from surveys.models import Invitation, Survey, SurveyPolicy
from surveys.services.bounces import email_bounced
from surveys.services.claims import (
    MAX_ATTEMPTS,
    invitation_claim_stands,
    invitation_mark_sent_start,
    invitations_claim,
)
from surveys.services.content import Texts, survey_texts
from surveys.services.eligibility import DELIVERED, History, eligibility_decide, histories_load
from surveys.services.events import hub_event_subscribed, invitation_sent_emit
from surveys.services.smtp import Envelope, MessageMold, envelope_of, smtp_send
from surveys.services.tokens import invitation_token_make

logger = logging.getLogger(__name__)


# Invitations that were really sent: they count for the re-survey interval and the global cap.
class InvitationLinks(TypedDict):
    respond: str  # /s/<token>/
    scores: list[str]  # scores[n]: /s/<token>/?score=n, n = 0..10
    unsubscribe: str  # /s/<token>/unsubscribe/


def invitation_links(*, invitation: Invitation) -> InvitationLinks:
    """The public links of one invitation (served by `surveys:respond` and `surveys:unsubscribe`)."""
    return _links(invitation_token_make(invitation=invitation) if invitation.pk else "preview")


def _links(token: str) -> InvitationLinks:
    respond = f"{settings.HUB_BASE_URL}/s/{token}/"
    return {
        "respond": respond,
        "scores": [f"{respond}?score={score}" for score in range(11)],
        "unsubscribe": f"{respond}unsubscribe/",
    }


def invitation_message_id(*, invitation: Invitation) -> str:
    """Derived from the invitation, so a resend after a crash carries the same Message-ID."""
    return message_id(what=f"invitation-{invitation.pk or 'preview'}.{invitation.survey.slug}")


def _score_label(score: int, texts: Texts) -> str:
    if score == 0:
        return f"0 \N{EN DASH} {texts.low_label}"
    if score == 10:
        return f"10 \N{EN DASH} {texts.high_label}"
    return f"{score} / 10"


def survey_sender(survey: Survey) -> str:
    """The From of a survey's emails: its sender, else DEFAULT_FROM_EMAIL's."""
    default_name, default_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((survey.sender_name or default_name, survey.sender_email or default_address))


# Where an invitation's token goes in a body rendered once for many invitations: letters and digits
# (no escaping changes them), random (no survey text holds it), and longer than any token (pk, time,
# signature: at most 71 characters), so putting the token in never lengthens a line of a mold.
_TOKEN_SLOT = f"token{secrets.token_hex(35)}"


@dataclass(frozen=True)
class InvitationBody:
    """A survey's email in one language, rendered once for every invitation it goes to: the plain
    text and the HTML with `_TOKEN_SLOT` where each invitation's token goes. The templates see the
    survey, its texts and the links, nothing of the person (their name and address are headers)."""

    survey: Survey
    texts: Texts
    text: str
    html: str

    @classmethod
    def render(cls, *, survey: Survey, language: str) -> "InvitationBody":
        texts = survey_texts(survey=survey, language=language)
        links = _links(_TOKEN_SLOT)
        context = {
            "survey": survey,
            "texts": texts,
            "links": links,
            "scores": [
                {"score": n, "url": url, "label": _score_label(n, texts)}
                for n, url in enumerate(links["scores"])
            ],
        }
        text = render_to_string("surveys/email/invitation.txt", context)
        html = render_to_string("surveys/email/invitation.html", context)
        if _TOKEN_SLOT not in text or _TOKEN_SLOT not in html:  # a filter changed the links
            raise ValueError("the email templates must show the invitation's links as they are")
        return cls(survey=survey, texts=texts, text=text, html=html)

    def email(self, *, token: str, to: str, message_id: str) -> EmailMultiAlternatives:
        """The email to `to` (a formatted address) with `token` in its links."""
        survey, texts = self.survey, self.texts
        message = EmailMultiAlternatives(
            subject=texts.subject,
            body=self.text.replace(_TOKEN_SLOT, token),
            from_email=survey_sender(survey),
            to=[to],
            reply_to=[survey.reply_to] if survey.reply_to else None,
            headers={
                "Message-ID": message_id,
                "List-Unsubscribe": f"<{_links(token)['unsubscribe']}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",  # RFC 8058 one-click
                "Content-Language": texts.language,
            },
        )
        message.attach_alternative(self.html.replace(_TOKEN_SLOT, token), "text/html")
        return message

    def mold(self) -> MessageMold | None:
        """This body as bytes for Django's SMTP backend, open where each message differs (None when
        it needs quoted-printable: surveys/services/smtp.py)."""
        sample = self.email(token=_TOKEN_SLOT, to="mold@example.invalid", message_id="<mold@example.invalid>")
        return MessageMold.of(sample, token=_TOKEN_SLOT)


class InvitationBodies:
    """One batch's bodies and molds, rendered on first use per survey and person's language."""

    def __init__(self) -> None:
        self._bodies: dict[tuple[int | None, str], InvitationBody] = {}
        self._molds: dict[tuple[int | None, str], MessageMold | None] = {}

    def body(self, survey: Survey, language: str) -> InvitationBody:
        key = (survey.pk, language)
        if key not in self._bodies:
            self._bodies[key] = InvitationBody.render(survey=survey, language=language)
        return self._bodies[key]

    def mold(self, survey: Survey, language: str) -> MessageMold | None:
        key = (survey.pk, language)
        if key not in self._molds:
            self._molds[key] = self.body(survey, language).mold()
        return self._molds[key]


def _person_of(invitation: Invitation) -> Person:
    if invitation.person is None:
        raise ValueError("the person of this invitation was erased")
    return invitation.person


def invitation_email(
    *, invitation: Invitation, bodies: InvitationBodies | None = None
) -> EmailMultiAlternatives:
    """The survey email of one invitation (HTML and plain text), ready for any connection.

    Also used by the admin's preview and "send test". Texts follow the person's language; a batch
    passes its `bodies`, so each survey's templates are rendered once per language.
    """
    person = _person_of(invitation)
    body = (bodies or InvitationBodies()).body(invitation.survey, person.language)
    return body.email(
        token=invitation_token_make(invitation=invitation) if invitation.pk else "preview",
        to=formataddr((person.name, person.email)),
        message_id=invitation_message_id(invitation=invitation),
    )


def invitation_envelope(*, invitation: Invitation, bodies: InvitationBodies) -> tuple[Envelope, str]:
    """The bytes Django's SMTP backend would send for `invitation_email` (but for the MIME boundary and
    the Date), filled into the batch's mold, and the texts' language."""
    person = _person_of(invitation)
    mold = bodies.mold(invitation.survey, person.language)
    body = bodies.body(invitation.survey, person.language)
    if mold is None:
        return envelope_of(invitation_email(invitation=invitation, bodies=bodies)), body.texts.language
    token = invitation_token_make(invitation=invitation)
    envelope = mold.fill(
        name=person.name,
        address=person.email,
        message_id=invitation_message_id(invitation=invitation),
        list_unsubscribe=f"<{_links(token)['unsubscribe']}>",
        token=token,
    )
    return envelope, body.texts.language


@dataclass
class DispatchReport:
    """What one dispatch run did, by invitation id (ids only: no address reaches logs or output)."""

    expired: int = 0
    claimed: int = 0
    sent: list[int] = field(default_factory=list)
    deferred: dict[int, datetime] = field(default_factory=dict)  # id -> new due time
    cancelled: dict[int, str] = field(default_factory=dict)  # id -> reason
    failed: dict[int, str] = field(default_factory=dict)  # id -> error
    released: dict[int, str] = field(default_factory=dict)  # id -> error; scheduled again

    def lines(self) -> list[str]:
        return [
            *(f"sent #{pk}" for pk in self.sent),
            *(f"deferred #{pk} to {at:%Y-%m-%d %H:%M} UTC" for pk, at in self.deferred.items()),
            *(f"cancelled #{pk}: {reason}" for pk, reason in self.cancelled.items()),
            *(f"failed #{pk}: {error}" for pk, error in self.failed.items()),
            *(f"retry later #{pk}: {error}" for pk, error in self.released.items()),
        ]


def invitations_expire(*, now: datetime) -> int:
    """Sent, unanswered invitations older than their survey's token expiry become expired.

    Per expiry value: one that cannot be computed with (saved before the bounds) is logged and
    skipped, and the other surveys' invitations still expire.
    """
    expired = 0
    for days in Survey.objects.order_by().values_list("token_expiry_days", flat=True).distinct():
        try:
            expired += Invitation.objects.filter(
                status=Invitation.Status.SENT,
                survey__token_expiry_days=days,
                sent_at__lt=now - timedelta(days=days),
            ).update(status=Invitation.Status.EXPIRED)
        except Exception:
            logger.exception("expiring the invitations of surveys with token_expiry_days=%s failed", days)
    return expired


def _histories(invitations: list[Invitation]) -> dict[tuple[int, int], History]:
    """Histories for the send-time re-check: only invitations really sent count (not this one, which
    is waiting); the caller adds each one it sends, so two surveys due together respect the global cap."""
    people = {i.person.pk: i.person for i in invitations if i.person is not None}
    surveys = {i.survey_id: i.survey for i in invitations}
    return histories_load(surveys=surveys.values(), people=people.values(), counted=DELIVERED)


def _release(ids: list[int], error: str, report: DispatchReport) -> None:
    """Give claimed, unsent invitations back (scheduled, same due time) to the next run.

    After an error the attempt counts, and the MAX_ATTEMPTS-th one gives up; without an error (the
    run ran out of time) it does not count.
    """
    claimed = Invitation.objects.filter(pk__in=ids, status=Invitation.Status.SENDING)
    if error:
        given_up = claimed.filter(attempts__gte=MAX_ATTEMPTS)
        failed = f"gave up after {MAX_ATTEMPTS} attempts: {error}"
        report.failed.update(dict.fromkeys(given_up.values_list("pk", flat=True), failed))
        given_up.update(status=Invitation.Status.FAILED, error=failed)
        claimed.update(status=Invitation.Status.SCHEDULED, claimed_at=None, error=error)
    else:
        claimed.update(status=Invitation.Status.SCHEDULED, claimed_at=None, attempts=F("attempts") - 1)
    report.released.update({pk: error for pk in ids if pk not in report.failed})


def invitations_dispatch_due(*, now: datetime | None = None, limit: int | None = None) -> DispatchReport:
    """One dispatch run: expire old invitations, then send up to `limit` due ones over one connection."""
    now = now or timezone.now()
    report = DispatchReport(expired=invitations_expire(now=now))
    ids = invitations_claim(now=now, limit=limit or settings.SURVEY_DISPATCH_BATCH)
    claimed_clock = time.monotonic()
    report.claimed = len(ids)
    if not ids:
        return report
    invitations = list(
        Invitation.objects.filter(pk__in=ids)
        .select_related("survey", "person")
        .prefetch_related("survey__translations")
        .order_by("due_at", "pk")
    )
    histories = _histories(invitations)
    histories_of_person: dict[int, list[History]] = {}
    for (_, person_id), history in histories.items():
        histories_of_person.setdefault(person_id, []).append(history)
    cap = SurveyPolicy.current().global_cap_days

    to_send: list[tuple[Invitation, Person]] = []
    deferred: list[Invitation] = []
    cancelled: dict[str, list[int]] = {}
    broken: dict[str, list[int]] = {}
    for invitation in invitations:
        person = invitation.person
        if person is None:
            cancelled.setdefault("person erased", []).append(invitation.pk)
            continue
        history = histories[(invitation.survey_id, person.pk)]
        try:
            decision = eligibility_decide(
                survey=invitation.survey,
                person=person,
                history=history,
                now=now,
                global_cap_days=cap,
                dispatching=True,
            )
        except Exception as exc:  # one survey's settings or one person's data: the others go on
            logger.exception("survey %s: deciding invitation %s failed", invitation.survey_id, invitation.pk)
            broken.setdefault(f"deciding failed: {type(exc).__name__}: {exc}", []).append(invitation.pk)
            continue
        if not decision.eligible or decision.send_at is None:
            cancelled.setdefault(decision.reasons[-1], []).append(invitation.pk)
        elif decision.send_at > now:
            # Outside the send window: wait for it to open; a deferral is not an attempt.
            invitation.status = Invitation.Status.SCHEDULED
            invitation.due_at = decision.send_at
            invitation.claimed_at = None
            invitation.attempts -= 1
            deferred.append(invitation)
        else:
            to_send.append((invitation, person))
            for other in histories_of_person.get(person.pk, ()):
                other.last_any = now
            history.last_for_survey = now

    for reason, reason_ids in cancelled.items():
        Invitation.objects.filter(pk__in=reason_ids).update(status=Invitation.Status.CANCELLED, error=reason)
        report.cancelled.update(dict.fromkeys(reason_ids, reason))
    Invitation.objects.bulk_update(deferred, ["status", "due_at", "claimed_at", "attempts"])
    report.deferred = {i.pk: i.due_at for i in deferred}
    for error, broken_ids in broken.items():
        _release(broken_ids, error, report)  # tried again next run, given up after MAX_ATTEMPTS
    if to_send:
        _send(to_send, now=now, claimed_clock=claimed_clock, report=report)
    return report


def _send(
    batch: list[tuple[Invitation, Person]], *, now: datetime, claimed_clock: float, report: DispatchReport
) -> None:
    connection = get_connection()
    try:
        connection.open()
    except Exception as exc:
        error = f"email connection failed: {error_text(exc)}"
        logger.warning("%s; %d invitations wait", error, len(batch))
        _release([i.pk for i, _ in batch], error, report)
        return
    # Django's own SMTP backend: the messages as bytes from the batch's molds, each exchange in steps
    # (surveys/services/smtp.py). Any other backend (anymail's ESPs, locmem, a subclass) gets
    # Django's messages through its send_messages.
    client = connection.connection if type(connection) is SmtpEmailBackend else None
    # Stop well before another dispatcher could take our claims for abandoned ones.
    budget = settings.SURVEY_CLAIM_TIMEOUT_SECONDS / 2
    announce = hub_event_subscribed(event_type="invitation.sent")  # once per batch, not per message
    bodies = InvitationBodies()
    pending: tuple[Invitation, str] | None = None  # accepted by the server, not yet marked sent

    def claim_statement(then_check: tuple[int, int] | None) -> Callable[[], bool]:
        """Mark the pending invitation sent, if there is one, and check the claim of `then_check`
        (invitation id, person id) in the same round trip; returns the function that waits for the
        answer (whether that claim stands), so the email server can be talked to meanwhile."""
        nonlocal pending
        if pending is None:
            stands = then_check is not None and invitation_claim_stands(
                invitation_id=then_check[0], person_id=then_check[1]
            )
            return lambda: stands
        (invitation, language), pending = pending, None
        with transaction.atomic() if announce else nullcontext():  # the event commits with the row
            answer = invitation_mark_sent_start(
                invitation_id=invitation.pk, sent_at=now, language=language, then_check=then_check
            )
            if announce:
                marked, stands = answer()
                if marked:
                    invitation_sent_emit(invitation=invitation, sent_at=now, language=language)
        report.sent.append(invitation.pk)
        logger.info("sent invitation %s", invitation.pk)
        return lambda: answer()[1]

    try:
        for index, (invitation, person) in enumerate(batch):
            if index and time.monotonic() - claimed_clock > budget:
                claim_statement(None)()
                _release([i.pk for i, _ in batch[index:]], "", report)
                return
            check = partial(claim_statement, (invitation.pk, person.pk))
            try:
                if client is not None:
                    envelope, language = invitation_envelope(invitation=invitation, bodies=bodies)
                else:
                    message = invitation_email(invitation=invitation, bodies=bodies)
                    language = message.extra_headers["Content-Language"]
            except Exception as exc:  # a broken template, text or header: this invitation only
                _fail(invitation, f"the message could not be built: {error_text(exc)}", report)
                continue
            try:
                # The claim is checked right before the message goes (an erase, unsubscribe or
                # bounce since the claim stops it), in the statement that marks the previous one
                # sent: the server has accepted that one, and has not yet been given this one.
                if client is not None:
                    wanted = smtp_send(client, envelope, check=check)  # while MAIL and RCPT are answered
                elif wanted := check()():
                    connection.send_messages([message])
            except Exception as exc:
                claim_statement(None)()  # the previous message is sent whatever happened to this one
                if _refused_alone(invitation, person, exc, report):
                    continue
                error = error_text(exc)
                logger.warning("email server trouble, the rest of the batch waits: %s", error)
                _release([i.pk for i, _ in batch[index:]], error, report)
                return
            if not wanted:
                _cancelled_meanwhile(invitation, report)
                continue
            # Marked by the next message's statement, or right below after the last one: a crash in
            # between resends at most this message, with the same Message-ID.
            pending = (invitation, language)
        claim_statement(None)()
    finally:
        try:
            connection.close()
        except Exception as exc:  # the messages are sent; a failing QUIT changes nothing
            logger.info("closing the email connection failed: %s", error_text(exc))


def _cancelled_meanwhile(invitation: Invitation, report: DispatchReport) -> None:
    """The claim no longer stands (`invitation_claim_stands`): an erase, unsubscribe or bounce landed
    while the batch ran. No email; the reason is the one its canceller wrote."""
    reason = Invitation.objects.filter(pk=invitation.pk).values_list("error", flat=True).first()
    report.cancelled[invitation.pk] = reason or "cancelled while its batch was sending"
    logger.info("invitation %s cancelled before sending: %s", invitation.pk, report.cancelled[invitation.pk])


def _refused_alone(invitation: Invitation, person: Person, error: Exception, report: DispatchReport) -> bool:
    """Handle an error that concerns this one message (True), or leave it to the caller as server or
    network trouble that stops the batch (False).

    A refused recipient (5xx on RCPT, or the ESP's refusal) suppresses the address hub-wide as bounced;
    a temporary refusal (4xx) gives this invitation back for a later run; a message that cannot be
    built (a header with a line break, an address that cannot be encoded) fails with the reason.
    """
    if isinstance(error, smtplib.SMTPRecipientsRefused) and error.recipients:
        code, answer = next(iter(error.recipients.values()))
        said = f"{code} {error_text(answer)}"
        if 400 <= code < 500:
            _release([invitation.pk], f"recipient temporarily refused ({said})", report)
            return True
        _bounce(invitation, person, f"recipient refused ({said})", report)
        return True
    if isinstance(error, AnymailRecipientsRefused):
        _bounce(invitation, person, "recipient refused by the email service", report)
        return True
    if isinstance(error, smtplib.SMTPDataError) and error.smtp_code >= 500:
        # 5xx after DATA: the server refused this message (content, size), not the connection.
        _fail(invitation, f"message refused ({error.smtp_code} {error_text(error.smtp_error)})", report)
        return True
    if isinstance(error, ValueError):  # BadHeaderError, an invalid address, AnymailInvalidAddress ...
        _fail(invitation, f"the message could not be built: {error_text(error)}", report)
        return True
    return False


def _bounce(invitation: Invitation, person: Person, error: str, report: DispatchReport) -> None:
    email_bounced(email=person.email)
    _fail(invitation, f"{error}: suppressed as bounced", report)


def _fail(invitation: Invitation, error: str, report: DispatchReport) -> None:
    Invitation.objects.filter(pk=invitation.pk).update(status=Invitation.Status.FAILED, error=error)
    report.failed[invitation.pk] = error
    logger.warning("invitation %s failed: %s", invitation.pk, error)


def invitations_dispatch_backlog(
    *,
    seconds: float | None = None,
    limit: int | None = None,
    on_report: Callable[[DispatchReport], None] | None = None,
) -> list[DispatchReport]:
    """Dispatch runs one after the other while invitations are due, for at most `seconds`.

    Stops early when the email server is in trouble: the next beat run tries again.
    """
    limit = limit or settings.SURVEY_DISPATCH_BATCH
    deadline = None if seconds is None else time.monotonic() + seconds
    reports = []
    while True:
        report = invitations_dispatch_due(limit=limit)
        reports.append(report)
        if on_report is not None:
            on_report(report)
        out_of_time = any(not error for error in report.released.values())
        if report.claimed < limit and not out_of_time:
            return reports
        if any(report.released.values()) or (deadline is not None and time.monotonic() > deadline):
            return reports
