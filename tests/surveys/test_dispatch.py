"""Due invitations become exactly one email each, checked at send time, through a real SMTP server."""

import re
import threading
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from customers.models import Person, Suppression, suppression_hash
from surveys.models import Invitation, SurveyPolicy, SurveyTranslation
from surveys.services.dispatch import invitation_email, invitations_dispatch_due
from surveys.tasks import dispatch_due
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import due_invitations_make, invitation_make, person_make, survey_make
from tests.threads import in_threads

pytestmark = pytest.mark.django_db

DASH = "\N{EN DASH}"


class _Links(HTMLParser):
    """Every <a> of an HTML body with its attributes, and the <html lang>."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []
        self.images: list[dict[str, str | None]] = []
        self.lang: str | None = None
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))
        elif tag == "img":
            self.images.append(dict(attrs))
        elif tag == "html":
            self.lang = dict(attrs).get("lang")
        elif tag == "script":
            self.scripts += 1


def parts(message: EmailMessage) -> tuple[str, str]:
    """The plain text and the HTML of a received multipart/alternative message."""
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


def html_of(message: Any) -> _Links:
    parser = _Links()
    parser.feed(message.alternatives[0][0] if hasattr(message, "alternatives") else parts(message)[1])
    return parser


def test_a_due_invitation_arrives_as_html_and_text_with_eleven_score_links(smtp: SmtpRecorder) -> None:
    survey = survey_make()
    person = person_make(email="ann@example.com", name="Ann Smith")
    invitation = invitation_make(survey=survey, person=person)

    report = invitations_dispatch_due()

    assert list(report.sent) == [invitation.pk]
    [message] = smtp.messages
    assert message["From"] == "Acme Feedback <feedback@acme.example>"
    assert message["To"] == "Ann Smith <ann@example.com>"
    assert message["Reply-To"] == "support@acme.example"
    assert message["Subject"] == "How likely are you to recommend Acme?"
    assert message["Message-ID"] == f"<invitation-{invitation.pk}.onboarding@feedback.acme.example>"
    token_base = re.escape("https://feedback.acme.example/s/") + r"([^/?]+)/"
    unsubscribe = message["List-Unsubscribe"].strip()  # a long header is folded onto the next line
    assert re.fullmatch(f"<{token_base}unsubscribe/>", unsubscribe)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    text, html = parts(message)
    page = _Links()
    page.feed(html)
    score_links = [a for a in page.links if "?score=" in (a["href"] or "")]
    assert [re.fullmatch(f"{token_base}\\?score=(\\d+)", a["href"] or "").group(2) for a in score_links] == [  # type: ignore[union-attr]
        str(n) for n in range(11)
    ]
    assert score_links[0]["aria-label"] == f"0 {DASH} Not at all likely"
    assert score_links[10]["aria-label"] == score_links[10]["title"] == f"10 {DASH} Extremely likely"
    assert all(a["aria-label"] for a in score_links)
    assert "background-color:#ff6600" in (score_links[0]["style"] or "")  # the survey's accent colour
    assert page.lang == "en"
    assert page.scripts == 0
    assert page.images == [
        {
            "src": "https://acme.example/logo.png",
            "alt": "Acme",
            "height": "40",
            "style": page.images[0]["style"],
        }
    ]
    unsubscribe = unsubscribe.strip("<>")
    assert [a["href"] for a in page.links if a["href"] == unsubscribe]  # visible, not only a header
    assert "How likely are you to recommend Acme to a friend or colleague?" in html
    assert "Acme Ltd, Main Street 1, Gent" in html

    text_links = re.findall(f"{token_base}\\?score=(\\d+)", text)
    assert [n for _, n in text_links] == [str(n) for n in range(11)]
    assert f"10 {DASH} Extremely likely: https://" in text
    assert f"Unsubscribe: {unsubscribe}" in text
    assert "&amp;" not in text  # plain text is not HTML-escaped
    assert "&#x27;" not in text

    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT
    assert invitation.sent_at is not None
    assert invitation.language == "en"


@pytest.mark.parametrize(
    "outside_a_transaction",
    [
        False,
        # The mark then goes to PostgreSQL without waiting (surveys/services/claims.py
        # invitation_mark_sent_start); it still counts as a query.
        pytest.param(True, marks=pytest.mark.django_db(transaction=True)),
    ],
)
def test_25_invitations_go_over_one_smtp_connection_with_one_statement_each(
    smtp: SmtpRecorder, django_assert_max_num_queries: Any, outside_a_transaction: bool
) -> None:
    invitations = due_invitations_make(25)

    # Claim, load and re-check cost a fixed number of queries; each message costs one statement on
    # PostgreSQL: its mark, which checks that nobody unsubscribed or was erased meanwhile before the
    # next message (two statements on SQLite).
    per_message = 1 if connection.vendor == "postgresql" else 2
    with django_assert_max_num_queries(20 + per_message * 25):
        report = invitations_dispatch_due()

    assert connection.in_atomic_block is not outside_a_transaction
    assert len(report.sent) == 25
    assert len(smtp.messages) == 25
    assert smtp.connections == 1
    assert sorted(smtp.message_ids()) == sorted(
        f"<invitation-{i.pk}.onboarding@feedback.acme.example>" for i in invitations
    )
    assert Invitation.objects.filter(status=Invitation.Status.SENT).count() == 25
    rows = Invitation.objects.filter(pk__in=[i.pk for i in invitations])
    assert {(i.status, i.language, i.error) for i in rows} == {("sent", "en", "")}


def test_a_batch_is_at_most_survey_dispatch_batch_and_the_backlog_command_sends_the_rest(
    smtp: SmtpRecorder, settings: Any
) -> None:
    settings.SURVEY_DISPATCH_BATCH = 10
    due_invitations_make(25)

    assert len(invitations_dispatch_due().sent) == 10
    out = StringIO()
    call_command("dispatch_due", stdout=out)

    assert len(smtp.messages) == 25
    assert smtp.connections == 3  # one per batch: 10, then 10 and 5
    assert out.getvalue().count("sent #") == 15
    assert "Sent 15 invitations." in out.getvalue()


def test_the_beat_task_is_scheduled_every_minute_and_sends(smtp: SmtpRecorder) -> None:
    task = PeriodicTask.objects.get(task="surveys.dispatch_due")
    assert task.interval is not None
    assert (task.interval.every, task.interval.period) == (60, "seconds")
    due_invitations_make(3)

    assert dispatch_due.delay().get() == 3
    assert len(smtp.messages) == 3


def test_a_belgian_dutch_speaker_gets_the_dutch_texts_and_others_the_default() -> None:
    survey = survey_make()
    SurveyTranslation.objects.create(
        survey=survey,
        language="nl",
        subject="Zou je {{ company }} aanraden?",
        question="Hoe waarschijnlijk is het dat je {{ company }} aanraadt?",
        low_label="Helemaal niet",
        high_label="Zeker wel",
    )
    dutch = invitation_make(survey=survey, person=person_make(language="nl-BE", email="an@example.be"))
    french = invitation_make(survey=survey, person=person_make(language="fr", email="jean@example.fr"))

    invitations_dispatch_due()

    by_recipient = {m.to[0]: m for m in mail.outbox}
    nl = by_recipient["an@example.be"]
    assert nl.subject == "Zou je Acme aanraden?"
    nl_html = html_of(nl)
    assert nl_html.lang == "nl"
    assert [a.get("aria-label") for a in nl_html.links][10] == f"10 {DASH} Zeker wel"
    assert "Hoe waarschijnlijk is het dat je Acme aanraadt?" in str(nl.body)
    fr = by_recipient["jean@example.fr"]
    assert fr.subject == "How likely are you to recommend Acme?"
    assert html_of(fr).lang == "en"
    dutch.refresh_from_db()
    french.refresh_from_db()
    assert (dutch.language, french.language) == ("nl", "en")


def test_a_person_suppressed_since_scheduling_is_cancelled_with_the_reason() -> None:
    person = person_make(email="gone@example.com")
    invitation = invitation_make(survey=survey_make(), person=person)
    Suppression.objects.create(
        source=person.source,
        kind="email",
        value_hash=suppression_hash("email", "gone@example.com"),
        reason=Suppression.Reason.UNSUBSCRIBED,
        created_at=datetime(2026, 11, 2, 8, 30, tzinfo=UTC),
    )

    report = invitations_dispatch_due()

    assert mail.outbox == []
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.CANCELLED
    assert invitation.error == "suppressed: unsubscribed on 2026-11-02"
    assert report.cancelled == {invitation.pk: "suppressed: unsubscribed on 2026-11-02"}


def test_people_without_email_or_erased_are_cancelled_and_others_still_sent() -> None:
    survey = survey_make()
    no_email = invitation_make(survey=survey, person=person_make(email=""))
    erased = invitation_make(survey=survey, person=None)
    fine = invitation_make(survey=survey, person=person_make(email="ok@example.com"))

    invitations_dispatch_due()

    assert [m.to for m in mail.outbox] == [["ok@example.com"]]
    statuses = dict(Invitation.objects.values_list("pk", "status"))
    errors = dict(Invitation.objects.values_list("pk", "error"))
    assert statuses == {no_email.pk: "cancelled", erased.pk: "cancelled", fine.pk: "sent"}
    assert errors[no_email.pk] == "no valid email address"
    assert errors[erased.pk] == "person erased"


def test_a_person_surveyed_in_between_is_not_surveyed_twice_but_the_invitation_itself_does_not_count() -> (
    None
):
    survey = survey_make()
    other = survey_make(name="Support NPS", slug="support")
    person = person_make()
    # Two surveys due together for one person under a 90-day global cap: only the first goes out.
    SurveyPolicy.objects.create(pk=1, global_cap_days=90)
    first = invitation_make(survey=survey, person=person, due_at=timezone.now() - timedelta(minutes=2))
    second = invitation_make(survey=other, person=person)

    invitations_dispatch_due()

    assert len(mail.outbox) == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == ("sent", "cancelled")
    assert second.error.startswith("global cap: a survey on")


@pytest.mark.parametrize(
    ("zone", "local_due", "local_sent"),
    [
        ("America/New_York", datetime(2027, 6, 15, 7, 0), datetime(2027, 6, 15, 9, 0)),
        ("Asia/Tokyo", datetime(2027, 6, 15, 7, 0), datetime(2027, 6, 15, 9, 0)),
        # Saturday before the last Sunday of March (CET, +1) → Monday after it (CEST, +2), still 9:00.
        ("Europe/Brussels", datetime(2027, 3, 27, 10, 0), datetime(2027, 3, 29, 9, 0)),
    ],
)
def test_outside_the_send_window_the_invitation_waits_for_the_window_in_the_persons_zone(
    zone: str, local_due: datetime, local_sent: datetime
) -> None:
    from zoneinfo import ZoneInfo

    survey = survey_make(send_window_enabled=True)  # Monday-Friday 9:00-17:00
    due = local_due.replace(tzinfo=ZoneInfo(zone))
    invitation = invitation_make(survey=survey, person=person_make(timezone=zone), due_at=due)

    with time_machine.travel(due + timedelta(seconds=30), tick=False):
        report = invitations_dispatch_due()

    assert mail.outbox == []
    invitation.refresh_from_db()
    opens = local_sent.replace(tzinfo=ZoneInfo(zone))
    assert invitation.status == Invitation.Status.SCHEDULED
    assert invitation.due_at == opens
    assert invitation.due_at.astimezone(ZoneInfo(zone)).hour == 9
    assert report.deferred == {invitation.pk: opens}

    with time_machine.travel(opens - timedelta(minutes=1), tick=False):
        invitations_dispatch_due()
    assert mail.outbox == []
    with time_machine.travel(opens + timedelta(seconds=5), tick=False):
        invitations_dispatch_due()
    assert len(mail.outbox) == 1
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT
    assert invitation.attempts == 1  # the deferral was not an attempt


def test_the_dst_change_moves_the_utc_time_of_the_window() -> None:
    """09:00 in Brussels is 08:00 UTC on Friday 26 March 2027 and 07:00 UTC on Monday 29 March."""
    survey = survey_make(send_window_enabled=True)
    person = person_make(timezone="Europe/Brussels")
    friday_7 = datetime(2027, 3, 26, 6, 0, tzinfo=UTC)
    monday_7 = datetime(2027, 3, 29, 5, 0, tzinfo=UTC)
    before = invitation_make(survey=survey, person=person, due_at=friday_7)

    invitations_dispatch_due(now=friday_7)
    before.refresh_from_db()
    assert before.due_at == datetime(2027, 3, 26, 8, 0, tzinfo=UTC)

    before.status = Invitation.Status.CANCELLED
    before.save()
    after = invitation_make(survey=survey, person=person, due_at=monday_7)
    invitations_dispatch_due(now=monday_7)
    after.refresh_from_db()
    assert after.due_at == datetime(2027, 3, 29, 7, 0, tzinfo=UTC)


def test_an_abandoned_claim_is_taken_again_and_a_fresh_one_is_left_alone(settings: Any) -> None:
    settings.SURVEY_CLAIM_TIMEOUT_SECONDS = 600
    survey = survey_make()
    now = timezone.now()
    abandoned = invitation_make(
        survey=survey,
        person=person_make(email="old@example.com"),
        status=Invitation.Status.SENDING,
        claimed_at=now - timedelta(seconds=601),
        attempts=1,
    )
    busy = invitation_make(
        survey=survey,
        person=person_make(email="busy@example.com"),
        status=Invitation.Status.SENDING,
        claimed_at=now - timedelta(seconds=30),
        attempts=1,
    )

    report = invitations_dispatch_due(now=now)

    assert [m.to for m in mail.outbox] == [["old@example.com"]]
    assert list(report.sent) == [abandoned.pk]
    abandoned.refresh_from_db()
    busy.refresh_from_db()
    assert (abandoned.status, abandoned.attempts) == ("sent", 2)
    assert (busy.status, busy.claimed_at) == ("sending", now - timedelta(seconds=30))


def test_a_message_that_keeps_killing_its_dispatcher_is_given_up() -> None:
    invitation = invitation_make(
        survey=survey_make(),
        person=person_make(),
        status=Invitation.Status.SENDING,
        claimed_at=timezone.now() - timedelta(days=1),
        attempts=5,
    )

    invitations_dispatch_due()

    assert mail.outbox == []
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.FAILED
    assert "gave up after 5 attempts" in invitation.error


def test_a_refused_recipient_fails_that_invitation_only(smtp: SmtpRecorder) -> None:
    survey = survey_make()
    refused = invitation_make(survey=survey, person=person_make(email="nobody@example.com"))
    fine = invitation_make(survey=survey, person=person_make(email="ok@example.com"))
    smtp.refuse.add("nobody@example.com")

    invitations_dispatch_due()

    assert [str(m["To"]) for m in smtp.messages] == ["ok@example.com"]
    refused.refresh_from_db()
    fine.refresh_from_db()
    assert refused.status == Invitation.Status.FAILED
    assert "550" in refused.error
    assert fine.status == Invitation.Status.SENT


def test_with_the_email_server_down_nothing_is_lost(settings: Any) -> None:
    from tests.surveys.conftest import free_port

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    invitation = invitation_make(survey=survey_make(), person=person_make())

    report = invitations_dispatch_due()

    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SCHEDULED
    assert invitation.claimed_at is None
    assert "email connection failed" in invitation.error
    assert list(report.released) == [invitation.pk]


def test_unanswered_invitations_expire_after_the_surveys_token_expiry() -> None:
    survey = survey_make()  # token_expiry_days=30
    now = timezone.now()
    old = invitation_make(
        survey=survey, person=person_make(), status="sent", sent_at=now - timedelta(days=31)
    )
    recent = invitation_make(
        survey=survey, person=person_make(), status="sent", sent_at=now - timedelta(days=29)
    )
    answered = invitation_make(
        survey=survey, person=person_make(), status="responded", sent_at=now - timedelta(days=40)
    )

    report = invitations_dispatch_due(now=now)

    assert report.expired == 1
    statuses = dict(Invitation.objects.values_list("pk", "status"))
    assert statuses == {old.pk: "expired", recent.pk: "sent", answered.pk: "responded"}


@pytest.mark.django_db(transaction=True)
def test_dispatchers_running_at_once_never_send_an_invitation_twice(smtp: SmtpRecorder) -> None:
    """On PostgreSQL the claims skip each other's locked rows; SQLite serialises them (IMMEDIATE)."""
    invitations = due_invitations_make(60)
    smtp.delay = 0.005
    sent_by: dict[str, int] = {}

    def dispatcher() -> None:
        name = threading.current_thread().name
        while report := invitations_dispatch_due(limit=5):
            if not report.claimed:
                break
            sent_by[name] = sent_by.get(name, 0) + len(report.sent)

    in_threads(*[dispatcher] * 4)  # raises what a dispatcher raised

    ids = smtp.message_ids()
    assert len(ids) == 60
    assert sorted(ids) == sorted(f"<invitation-{i.pk}.onboarding@feedback.acme.example>" for i in invitations)
    assert len(sent_by) > 1  # the dispatchers really shared the work
    assert Invitation.objects.filter(status=Invitation.Status.SENT).count() == 60


def test_a_slow_batch_gives_back_its_claims_before_they_could_look_abandoned(
    smtp: SmtpRecorder, settings: Any
) -> None:
    """Another dispatcher takes claims older than the timeout: stop at half of it and hand back the rest."""
    settings.SURVEY_CLAIM_TIMEOUT_SECONDS = 1
    smtp.delay = 0.3
    due_invitations_make(5)

    report = invitations_dispatch_due()

    assert len(report.sent) == 2  # 0.6 s > 0.5 s
    assert len(report.released) == 3
    waiting = Invitation.objects.exclude(status=Invitation.Status.SENT)
    assert {(i.status, i.claimed_at, i.attempts) for i in waiting} == {("scheduled", None, 0)}
    out = StringIO()
    call_command("dispatch_due", stdout=out)
    assert len(smtp.messages) == len(set(smtp.message_ids())) == 5
    assert "Sent 3 invitations." in out.getvalue()


def test_the_admin_preview_renders_an_unsaved_invitation_without_live_links() -> None:
    survey = survey_make()
    preview = Invitation(survey=survey, person=Person(email="preview@example.com", language="en"))

    message = invitation_email(invitation=preview)

    assert message.extra_headers["Message-ID"] == "<invitation-preview.onboarding@127.0.0.1>"
    assert all("/s/preview/?score=" in (a["href"] or "") for a in html_of(message).links[:11])
    assert not Invitation.objects.exists()
