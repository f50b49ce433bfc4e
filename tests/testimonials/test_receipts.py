"""Right after a person agrees to be quoted, one email thanks them with their quote and the withdrawal
link, which works long after the survey's links expired; never twice, never to a suppressed address,
never after a withdrawal; the sweeper sends the ones whose task was lost."""

from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from customers.models import Suppression
from customers.services.suppressions import suppressions_record
from testimonials.models import Testimonial
from testimonials.receipts import testimonial_receipt_send, testimonial_receipts_sweep
from testimonials.services import testimonial_withdraw
from tests.surveys.conftest import SmtpRecorder, smtp_server  # noqa: F401 - the SMTP fixtures
from tests.surveys.conftest import smtp as smtp
from tests.testimonials.helpers import COMMENT, answered, consent_post, embed_json

pytestmark = pytest.mark.django_db

CaptureOnCommit = Any


def consent_given(capture: CaptureOnCommit, settings: Any, **answer: Any) -> Testimonial:
    settings.HUB_BASE_URL = "https://hub.acme.example"
    _, response, token = answered(**answer)
    with capture(execute=True):
        assert consent_post(Client(), token).status_code == 302
    return Testimonial.objects.get(response=response)


def test_one_email_thanks_the_person_with_their_quote_and_a_withdrawal_link(
    django_capture_on_commit_callbacks: CaptureOnCommit, settings: Any, mailoutbox: list[Any]
) -> None:
    testimonial = consent_given(django_capture_on_commit_callbacks, settings)

    [message] = mailoutbox
    assert message.to == [testimonial.person.email]  # type: ignore[union-attr]
    assert message.subject == "Thank you for letting Acme quote you"
    assert COMMENT in message.body
    assert "Shown with the name: Ann P." in message.body
    assert (
        message.extra_headers["Message-ID"] == f"<testimonial-{testimonial.pk}.customer-nps@hub.acme.example>"
    )
    testimonial.refresh_from_db()
    assert testimonial.receipt == Testimonial.Receipt.SENT
    assert testimonial.receipt_sent_at is not None

    # The link in the email withdraws (it never expires), even long after.
    link = next(line for line in message.body.splitlines() if "/withdraw/" in line).strip()
    assert link.startswith("https://hub.acme.example/t/")
    path = link.removeprefix("https://hub.acme.example")
    client = Client()
    assert client.get(path).status_code == 200
    client.post(path)
    testimonial.refresh_from_db()
    assert testimonial.status == Testimonial.Status.WITHDRAWN


def test_the_email_is_sent_once_whoever_sends_it(
    django_capture_on_commit_callbacks: CaptureOnCommit, settings: Any, mailoutbox: list[Any]
) -> None:
    testimonial = consent_given(django_capture_on_commit_callbacks, settings)

    assert testimonial_receipt_send(testimonial_id=testimonial.pk) == ""
    assert testimonial_receipts_sweep(now=timezone.now() + timedelta(hours=1)) == 0
    assert len(mailoutbox) == 1


def test_the_sweeper_sends_the_email_whose_task_was_lost_and_one_whose_sender_died(
    settings: Any, mailoutbox: list[Any]
) -> None:
    settings.HUB_BASE_URL = "https://hub.acme.example"
    _, _, token = answered()
    _, _, other_token = answered(comment="Another happy customer.")
    consent_post(Client(), token)  # not captured: the task enqueued on commit is lost
    consent_post(Client(), other_token)
    lost, crashed = Testimonial.objects.order_by("pk")
    Testimonial.objects.filter(pk=crashed.pk).update(receipt="sending", receipt_claimed_at=timezone.now())

    assert testimonial_receipts_sweep() == 0  # too early: the task may still be on its way
    assert testimonial_receipts_sweep(now=timezone.now() + timedelta(minutes=11)) == 2
    assert sorted(m.extra_headers["Message-ID"] for m in mailoutbox) == sorted(
        f"<testimonial-{t.pk}.customer-nps@hub.acme.example>" for t in (lost, crashed)
    )


def test_no_email_to_a_suppressed_address_or_after_a_withdrawal(settings: Any, mailoutbox: list[Any]) -> None:
    _, first, token = answered()
    _, _, other_token = answered(comment="Withdrawn before the email went.")
    consent_post(Client(), token)
    consent_post(Client(), other_token)
    suppressed, withdrawn = Testimonial.objects.order_by("pk")
    suppressions_record(reason=Suppression.Reason.BOUNCED, emails=[first.person.email])  # type: ignore[union-attr]
    testimonial_withdraw(testimonial=withdrawn)

    results = [testimonial_receipt_send(testimonial_id=t.pk) for t in (suppressed, withdrawn)]

    assert results == ["not_sent", "not_sent"]
    assert mailoutbox == []


def test_a_failing_mail_server_is_recorded_without_the_address(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    _, _, token = answered()
    consent_post(Client(), token)
    testimonial = Testimonial.objects.get()

    assert testimonial_receipt_send(testimonial_id=testimonial.pk) == "failed"

    testimonial.refresh_from_db()
    assert testimonial.receipt_error.startswith("ConnectionRefusedError")
    assert "@" not in testimonial.receipt_error
    assert embed_json(Client()).status_code == 200
    assert len(mail.outbox) == 0


def test_a_refused_address_is_recorded_with_the_servers_answer_without_the_address(
    smtp: SmtpRecorder,
) -> None:
    _, response, token = answered()
    smtp.refuse.add(response.person.email)  # type: ignore[union-attr]
    consent_post(Client(), token)
    testimonial = Testimonial.objects.get()

    assert testimonial_receipt_send(testimonial_id=testimonial.pk) == "failed"

    testimonial.refresh_from_db()
    assert testimonial.receipt_error == "SMTPRecipientsRefused: 550 5.1.1 No such user here"
