"""Auto-replies: one email per answer, by band and language, a configurable time after the answer (so a
changed score counts), never twice, never to an unsubscribed, bounced or erased person."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from actions.models import AutoReply, AutoReplySend
from actions.services import autoreplies
from actions.services.autoreplies import auto_replies_send_due
from customers.models import Suppression
from customers.services.erasure import person_erase_record
from surveys.models import Survey
from surveys.services.responses import person_unsubscribe
from tests.actions.conftest import answer, change, customer, person_of
from tests.surveys.conftest import SmtpRecorder

pytestmark = pytest.mark.django_db


@pytest.fixture
def replies(survey: Survey) -> None:
    AutoReply.objects.create(
        name="Detractors", band="detractor", subject="Sorry, {first_name}", body="We will call you, {name}."
    )
    AutoReply.objects.create(
        name="Détracteurs", band="detractor", language="fr", subject="Désolés", body="Nous vous appelons."
    )
    AutoReply.objects.create(
        name="Promoters",
        survey=survey,
        band="promoter",
        subject="Thank you!",
        body="Glad you like us.",
        delay_minutes=60,
    )


def later(minutes: int) -> datetime:
    return timezone.now() + timedelta(minutes=minutes)


def test_a_detractor_gets_one_reply_thirty_minutes_later(smtp: SmtpRecorder, replies: None) -> None:
    response = answer(customer(), 3)

    assert auto_replies_send_due().sent == []  # not yet
    assert auto_replies_send_due(now=later(29)).sent == []
    report = auto_replies_send_due(now=later(31))
    assert auto_replies_send_due(now=later(90)).sent == []  # never twice

    [send] = AutoReplySend.objects.all()
    assert report.sent == [send.pk]
    [message] = smtp.messages
    assert (message["Subject"], message.get_content().strip()) == (
        "Sorry, Ann",
        "We will call you, Ann Smith.",
    )
    assert message["To"] == f"Ann Smith <{person_of(response).email}>"
    assert message["From"] == "Acme Feedback <feedback@acme.example>"
    assert message["Message-ID"] == f"<auto-reply-{send.pk}.onboarding@feedback.acme.example>"
    assert message["References"] == f"<invitation-{response.invitation_id}.onboarding@feedback.acme.example>"
    assert message["Auto-Submitted"] == "auto-replied"


def test_the_reply_follows_the_score_when_it_is_due_and_the_answer_s_language(
    smtp: SmtpRecorder, replies: None
) -> None:
    change(answer(customer(), 3), 10)  # changed their mind within the half hour
    answer(customer(language="fr"), 2)
    answer(customer(), 7)  # passives get no reply

    auto_replies_send_due(now=later(61))

    assert sorted(m["Subject"] for m in smtp.messages) == ["Désolés", "Thank you!"]
    assert AutoReplySend.objects.get(response__rating=7).reason == "no auto-reply for a passive in 'en'"


def test_no_reply_after_an_unsubscribe_or_an_erasure(smtp: SmtpRecorder, replies: None) -> None:
    unsubscribed = answer(customer(), 3)
    person_unsubscribe(invitation=unsubscribed.invitation)
    erased = answer(customer(), 3)
    person_erase_record(person=person_of(erased), requested_by="test")

    auto_replies_send_due(now=later(31))

    assert smtp.messages == []
    assert sorted(AutoReplySend.objects.values_list("reason", flat=True)) == [
        "address suppressed (unsubscribed)",
        "person erased",
    ]


def test_a_refused_address_is_suppressed_as_bounced_and_not_tried_again(
    smtp: SmtpRecorder, replies: None
) -> None:
    response = answer(customer(), 3)
    smtp.refuse.add(person_of(response).email)

    auto_replies_send_due(now=later(31))
    auto_replies_send_due(now=later(90))

    assert AutoReplySend.objects.get().status == AutoReplySend.Status.FAILED
    assert Suppression.objects.filter(reason=Suppression.Reason.BOUNCED).count() == 1


def test_a_mail_server_away_is_tried_again_later(smtp: SmtpRecorder, replies: None, settings: Any) -> None:
    answer(customer(), 3)
    port, settings.EMAIL_PORT = settings.EMAIL_PORT, 1  # nobody listens on 1

    report = auto_replies_send_due(now=later(31))
    assert list(report.retried.values()) == [
        "email server trouble: ConnectionRefusedError: [Errno 111] Connection refused"
    ]
    assert auto_replies_send_due(now=later(32)).sent == []  # waits RETRY_MINUTES

    settings.EMAIL_PORT = port
    assert len(auto_replies_send_due(now=later(40)).sent) == 1
    assert len(smtp.messages) == 1


def test_no_auto_reply_no_schedule(survey: Survey) -> None:
    answer(customer(), 3)

    assert not AutoReplySend.objects.exists()


def test_an_erasure_landing_while_the_run_works_stops_that_reply(
    smtp: SmtpRecorder, replies: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    person = person_of(answer(customer(), 3))
    pick = autoreplies.auto_reply_pick

    def erased_meanwhile(**kwargs: Any) -> AutoReply | None:
        person_erase_record(person=person, requested_by="test")  # another process, mid-run
        return pick(**kwargs)

    monkeypatch.setattr(autoreplies, "auto_reply_pick", erased_meanwhile)
    report = auto_replies_send_due(now=later(31))

    assert smtp.messages == []
    assert list(report.skipped.values()) == ["person erased"]
    assert AutoReplySend.objects.get().status == AutoReplySend.Status.SKIPPED
