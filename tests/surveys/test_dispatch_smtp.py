"""Django's SMTP backend gets the dispatcher's fast path (surveys/services/smtp.py): each message's
bytes filled into a mold rendered once per survey and language, and the claim check and the previous
message's mark running while the server answers MAIL FROM and RCPT TO. What a person receives and the
rules of sending stay those of the general path (any other backend: Django builds every message)."""

import asyncio
import random
import re
import smtplib
import string
import time
from datetime import UTC, datetime
from email import policy
from typing import Any

import pytest
import time_machine
from django.core.mail.message import sanitize_address
from django.db import connections
from django.test import Client

from customers.services.erasure import person_erase
from surveys.models import Invitation, SurveyTranslation
from surveys.services.dispatch import (
    InvitationBodies,
    invitation_email,
    invitation_envelope,
    invitations_dispatch_due,
    survey_sender,
)
from surveys.services.smtp import envelope_recipient, header_line
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import due_invitations_make, invitation_make, person_make, survey_make

NAMES = [
    "Ann Smith",
    "José Müller",  # an encoded word in To
    "O'Brien, Jr.",  # quoted
    'Ann "The Boss" Lee',
    "",
    "Maximiliane Alexandra Konstantinopoulou-Vanderbilt de la Fontaine y Ñúñez III",  # folded
]


def normalised(content: bytes) -> bytes:
    """A message without what differs between two builds of it: the MIME boundary and the Date."""
    boundary = re.search(rb'boundary="([^"]+)"', content)
    assert boundary is not None
    content = content.replace(boundary.group(1), b"BOUNDARY")
    return re.sub(rb"\r\nDate: [^\r]*\r\n", b"\r\nDate: -\r\n", content)


@pytest.mark.django_db
@pytest.mark.parametrize("language", ["en", "nl-BE"])
@pytest.mark.parametrize("name", NAMES)
def test_a_filled_mold_is_the_message_django_builds_byte_for_byte(name: str, language: str) -> None:
    survey = survey_make(footer="Acme Ltd · Grote Markt 1 · Gent")
    SurveyTranslation.objects.create(
        survey=survey, language="nl", subject="Zou je {{ company }} aanraden?", low_label="Helemaal niet"
    )
    person = person_make(name=name, email="ann.lee+nps@example.com", language=language)
    invitation = invitation_make(survey=survey, person=person)
    bodies = InvitationBodies()

    with time_machine.travel(datetime(2026, 12, 5, 9, 30, tzinfo=UTC), tick=False):  # the token's time
        envelope, texts_language = invitation_envelope(invitation=invitation, bodies=bodies)
        django = invitation_email(invitation=invitation)

    assert bodies.mold(survey, person.language) is not None  # the fast path itself, not its fallback
    assert normalised(envelope.content) == normalised(django.message().as_bytes(linesep="\r\n"))
    assert envelope.sender == sanitize_address(survey_sender(survey), "utf-8")
    assert smtplib.quoteaddr(envelope.recipient) == smtplib.quoteaddr(sanitize_address(django.to[0], "utf-8"))
    assert texts_language == ("nl" if language == "nl-BE" else "en")


@pytest.mark.parametrize(
    ("name", "address"),
    [
        ("Ann", "a.b+tag@example.com"),
        ("", "x@example.com"),
        ("José", "jose@sub.example.co.uk"),
        ("Lee, Ann", "ann@example.com"),
        ("Ann", '"quoted local"@example.com'),
    ],
)
def test_the_envelope_recipient_is_the_one_djangos_backend_would_give(name: str, address: str) -> None:
    from email.utils import formataddr

    to = formataddr((name, address))

    ours = envelope_recipient(to, address, "utf-8")

    assert smtplib.quoteaddr(ours) == smtplib.quoteaddr(sanitize_address(to, "utf-8"))


def test_a_header_line_is_the_one_djangos_generator_writes() -> None:
    """header_line's shortcut for short lines against compat32's folding, on random values."""
    rng = random.Random(11)  # noqa: S311  (test data, not secrets)
    alphabet = string.ascii_letters + string.digits + " <>@.,;:\"'()=?_-\t"
    fold = policy.compat32.clone(linesep="\r\n").fold_binary
    shortcut = 0
    for _ in range(20_000):
        name = rng.choice(["To", "Date", "Message-ID", "List-Unsubscribe"])
        value = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 90)))
        assert header_line(name, value) == fold(name, value), (name, value)
        shortcut += (
            len(name) + 2 + len(value) <= 78 and re.fullmatch(r"[!-~]+(?: [!-~]+)*", value) is not None
        )
    assert shortcut > 5_000  # the shortcut was taken, not only the fallback


@pytest.mark.django_db
def test_a_survey_text_with_a_line_too_long_for_8bit_is_sent_as_django_builds_it(smtp: SmtpRecorder) -> None:
    """Over 998 bytes a line needs quoted-printable, which a mold does not take."""
    footer = "Acme " * 250
    survey = survey_make(footer=footer)
    invitation = invitation_make(survey=survey, person=person_make(email="ann@example.com"))

    report = invitations_dispatch_due()

    assert InvitationBodies().mold(survey, "en") is None
    assert report.sent == [invitation.pk]
    [message] = smtp.messages
    text = message.get_body(("plain",))
    assert text is not None
    assert text["Content-Transfer-Encoding"] == "quoted-printable"
    assert footer.strip() in text.get_content()
    assert message["Message-ID"] == f"<invitation-{invitation.pk}.onboarding@feedback.acme.example>"


def status_once(invitation_id: int, wanted: str, *, within: float = 5.0) -> str:
    """The invitation's status as soon as it is `wanted`, else as it is after `within` seconds (read
    on this thread's own database connection, closed afterwards)."""
    deadline = time.monotonic() + within
    try:
        while True:
            status = Invitation.objects.values_list("status", flat=True).get(pk=invitation_id)
            if status == wanted or time.monotonic() > deadline:
                return status
            time.sleep(0.01)
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_a_message_is_marked_sent_while_the_server_answers_the_next_ones_sender(
    smtp: SmtpRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mark of a message the server accepted commits by itself while the server answers the next
    MAIL FROM, before the dispatcher reads its answer (claims.py: the statement goes out with its Sync;
    psycopg's pipeline mode would hold the commit until then). A dispatcher killed during that
    exchange has not lost the mark, so the message is not sent twice."""
    first, second = due_invitations_make(2)
    seen: list[str] = []

    async def handle_MAIL(  # aiosmtpd calls its handler's handle_<COMMAND>
        server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if smtp.messages:  # the second message's sender: the server has accepted the first
            # a thread of its own: Django refuses the database in async code
            seen.append(await asyncio.to_thread(status_once, first.pk, Invitation.Status.SENT))
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    monkeypatch.setattr(smtp, "handle_MAIL", handle_MAIL, raising=False)

    report = invitations_dispatch_due()

    assert seen == [Invitation.Status.SENT]
    assert report.sent == [first.pk, second.pk]


@pytest.mark.django_db(transaction=True)
def test_a_person_erased_while_the_server_takes_the_message_before_theirs_gets_no_email(
    smtp: SmtpRecorder, client: Client
) -> None:
    survey = survey_make()
    first = invitation_make(survey=survey, person=person_make(email="first@example.com"))
    second = invitation_make(survey=survey, person=person_make(email="second@example.com", user_id="u-2"))
    third = invitation_make(survey=survey, person=person_make(email="third@example.com"))
    assert second.person is not None
    person = second.person

    def erase() -> None:  # in the SMTP server's thread, on a connection of its own
        try:
            person_erase(source=person.source, user_id="u-2", requested_by="staff admin")
        finally:
            connections.close_all()

    smtp.on_message = erase

    report = invitations_dispatch_due()

    assert [str(m["To"]) for m in smtp.messages] == ["first@example.com", "third@example.com"]
    assert report.sent == [first.pk, third.pk]
    assert report.cancelled == {second.pk: "person erased on request"}
    second.refresh_from_db()
    assert second.status == Invitation.Status.CANCELLED


def test_smtp_fixture_is_djangos_backend(settings: Any, smtp: SmtpRecorder) -> None:
    """The tests above are about the fast path: they run on Django's own SMTP backend."""
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"


@pytest.mark.django_db
def test_templates_that_alter_the_links_fail_the_message_rather_than_send_it_with_wrong_links(
    smtp: SmtpRecorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A body is rendered once with a stand-in token: a template filter that changes the links would
    leave every message without its own."""
    from surveys.services import dispatch

    monkeypatch.setattr(dispatch, "render_to_string", lambda name, context: "Tell us: https://feedback/s/…")
    invitation = invitation_make(survey=survey_make(), person=person_make())

    report = invitations_dispatch_due()

    assert smtp.messages == []
    assert report.failed[invitation.pk] == (
        "the message could not be built: ValueError: the email templates must show the invitation's "
        "links as they are"
    )
