"""Cases: a detractor's answer that someone must act on, from open to closed, with its log.

    case_open(response=r)          in the answer's transaction (hub/pipeline.py RESPONSE_HOOKS): a
                                   detractor answer (first, or changed to one) opens its one case.
    case_save(case=c, by=user, ...) the admin's form: owner, status, due date, a note, a reply to the
                                   customer (sent through EMAIL_URL, logged), closing with or without
                                   "did we solve it?".
    case_followup_answer(case=c, solved=True)  the customer's answer on the follow-up page (POST only).

The follow-up link is signed (django.core.signing, salt "actions.case-followup") and valid
CASE_FOLLOWUP_DAYS days; it names the case, nothing else.
"""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from actions.models import Case, CaseEntry
from actions.services.mail import customer_email_send, personalised
from hub.cleaning import parse_id
from hub.errors import error_text
from surveys.models import Response
from surveys.services.content import survey_texts

_SALT = "actions.case-followup"
CASE_FOLLOWUP_DAYS = 30
REPLY_MAX_LENGTH = 10_000


class CaseError(Exception):
    """What staff asked cannot be done (the person was erased, the mail server refused); the message
    says why, for the admin."""


class CaseLinkInvalid(Exception):
    """The follow-up link was altered, names no case, or is older than CASE_FOLLOWUP_DAYS."""


def case_open(*, response: Response) -> Case | None:
    """The answer's case, opened now if it is a detractor's and has none; None otherwise."""
    if response.band != "detractor" or response.person_id is None:
        return None
    now = timezone.now()
    case, created = Case.objects.get_or_create(
        response=response,
        defaults={
            "survey_id": response.survey_id,
            "person_id": response.person_id,
            "opened_at": now,
            "due_at": now + timedelta(hours=settings.CASES_DUE_HOURS),
        },
    )
    if created:
        CaseEntry.objects.create(
            case=case, kind=CaseEntry.Kind.OPENED, text=f"Opened for a {response.rating}/10 answer."
        )
    return case


def case_save(
    *,
    case: Case,
    by: Any,
    changed: list[str],
    previous_status: str,
    note: str = "",
    reply: str = "",
    followup: bool = False,
) -> list[str]:
    """Save the admin's changes to a case (already set on `case`) and what they imply: the log, the
    closing time, a note, a reply to the customer, the follow-up. Returns what was done, for the
    admin's message; raises CaseError (nothing saved) when the reply cannot be sent."""
    done: list[str] = []
    now = timezone.now()
    with transaction.atomic():
        if "status" in changed and case.status != previous_status:
            case.closed_at = now if case.status == Case.Status.CLOSED else None
            CaseEntry.objects.create(
                case=case, kind=CaseEntry.Kind.STATUS, author=by, text=f"Status: {case.get_status_display()}."
            )
        case.save()
        if note.strip():
            CaseEntry.objects.create(case=case, kind=CaseEntry.Kind.NOTE, author=by, text=note.strip())
            done.append("note added")
        if reply.strip():
            case_reply(case=case, by=by, text=reply)
            done.append("reply sent to the customer")
        if followup and case.status == Case.Status.CLOSED and case.followup_sent_at is None:
            case_followup_send(case=case, by=by)
            done.append("'did we solve it?' sent")
    return done


def _customer(case: Case) -> Any:
    person = case.person
    if person is None or not person.email:
        raise CaseError("The customer was erased on request (or has no address): nothing can be sent.")
    return person


def case_reply(*, case: Case, by: Any, text: str) -> CaseEntry:
    """Email staff's reply to the customer (EMAIL_URL), then log it on the case."""
    person = _customer(case)
    text = text.strip()
    if len(text) > REPLY_MAX_LENGTH:
        raise CaseError(f"The reply is longer than {REPLY_MAX_LENGTH} characters.")
    entry = CaseEntry.objects.create(case=case, kind=CaseEntry.Kind.REPLY, author=by, text=text)
    texts = survey_texts(survey=case.survey, language=person.language)
    try:
        customer_email_send(
            response=case.response,
            person=person,
            subject=f"Re: {texts.subject}",
            body=text + "\n",
            what=f"case-{case.pk}-reply-{entry.pk}",
        )
    except Exception as exc:
        raise CaseError(
            f"The mail server did not take the reply ({error_text(exc)}); nothing was sent."
        ) from exc
    return entry


def case_followup_link(*, case: Case) -> str:
    token = signing.TimestampSigner(salt=_SALT).sign(str(case.pk))
    return f"{settings.HUB_BASE_URL}{reverse('actions:case_followup', args=[token])}"


def case_followup_send(*, case: Case, by: Any = None) -> None:
    """Ask the customer "did we solve it?" with a link to the one-question page; logged on the case."""
    person = _customer(case)
    link = case_followup_link(case=case)
    context = {"first_name": personalised("{first_name}", person=person), "company": case.survey.company_name}
    body = render_to_string("actions/email/case_followup.txt", {**context, "link": link})
    try:
        customer_email_send(
            response=case.response,
            person=person,
            subject="Did we solve it?",
            body=body,
            what=f"case-{case.pk}-followup",
        )
    except Exception as exc:
        raise CaseError(f"The mail server did not take the follow-up ({error_text(exc)}).") from exc
    case.followup_sent_at = timezone.now()
    case.save(update_fields=["followup_sent_at"])
    CaseEntry.objects.create(
        case=case, kind=CaseEntry.Kind.FOLLOWUP_SENT, author=by, text="'Did we solve it?' sent."
    )


def case_of_link(*, token: str) -> Case:
    """The case a follow-up link names; CaseLinkInvalid for anything else (altered, unknown, too old)."""
    try:
        value = signing.TimestampSigner(salt=_SALT).unsign(token, max_age=CASE_FOLLOWUP_DAYS * 86_400)
    except signing.BadSignature:
        raise CaseLinkInvalid("altered or expired") from None
    pk = parse_id(value)
    case = (
        Case.objects.select_related("survey", "person", "response__invitation__survey").filter(pk=pk).first()
        if pk is not None
        else None
    )
    if case is None or case.followup_sent_at is None:
        raise CaseLinkInvalid("no such case")
    return case


def case_followup_answer(*, case: Case, solved: bool) -> Case:
    """Record the customer's answer on the case (a later answer replaces it; both are logged)."""
    with transaction.atomic():
        case = Case.objects.select_for_update().get(pk=case.pk)
        case.solved, case.solved_answered_at = solved, timezone.now()
        case.save(update_fields=["solved", "solved_answered_at"])
        text = "Yes, the problem is solved." if solved else "No, the problem is not solved."
        CaseEntry.objects.create(case=case, kind=CaseEntry.Kind.FOLLOWUP_ANSWER, text=text)
    return case
