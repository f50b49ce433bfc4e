"""`manage.py report_send`: renders one report (stdout or a file) with --dry-run, otherwise sends it to
the subscribers through the ledger; every mistake in its arguments is one line."""

import email
import io
from collections.abc import Callable
from datetime import UTC, datetime
from email.policy import default as default_policy
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image

from insights.models import ReportSending, ReportSubscription
from tests.insights.answers import answers_make
from tests.insights.factories import report_sending_make
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import survey_make

pytestmark = pytest.mark.django_db

W48 = datetime(2026, 11, 25, 12, tzinfo=UTC)


def report_send(*args: str) -> str:
    out = StringIO()
    call_command("report_send", *args, stdout=out)
    return out.getvalue()


def test_a_dry_run_prints_the_report_and_sends_and_records_nothing(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    survey = survey_make(slug="onboarding")
    answers_make(survey=survey, ratings={10: 50, 8: 30, 3: 20}, at=W48)
    subscribe(survey=survey, created_at=datetime(2026, 11, 1, tzinfo=UTC))

    out = report_send("--survey", "onboarding", "--period", "2026-W48", "--dry-run")

    assert out.startswith(
        "Subject: NPS report: Onboarding NPS, week 48 of 2026 (23\N{EN DASH}29 Nov): +30 ± 15.3 (n = 100)"
    )
    assert "Score: +30 ± 15.3 (n = 100)" in out
    assert smtp.messages == []
    assert not ReportSending.objects.exists()


def test_a_dry_run_writes_the_whole_message_to_a_file_in_the_subscribers_time_zone(
    tmp_path: Path, subscribe: Callable[..., ReportSubscription]
) -> None:
    survey = survey_make()
    answers_make(survey=survey, ratings={9: 3}, at=W48)
    subscription = subscribe(survey=survey, frequency="monthly", time_zone="Pacific/Auckland")
    path = tmp_path / "report.eml"

    out = report_send(
        "--survey",
        str(survey.pk),
        "--period",
        "2026-11",
        "--dry-run",
        "--user",
        subscription.user.username,
        "--output",
        str(path),
    )

    assert out == f"Wrote the report of 2026-11 (Pacific/Auckland) to {path}.\n"
    message = email.message_from_bytes(path.read_bytes(), policy=default_policy)
    assert message.get_content_type() == "multipart/related"
    [png] = [part for part in message.walk() if part.get_content_type() == "image/png"]
    assert Image.open(io.BytesIO(png.get_content())).format == "PNG"
    [text] = [part for part in message.walk() if part.get_content_type() == "text/plain"]
    assert "November 2026 (Pacific/Auckland)" in text.get_content()
    assert not ReportSending.objects.exists()


def test_sending_records_each_subscriber_in_the_ledger_and_never_sends_a_period_twice(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    survey = survey_make()
    weekly = subscribe(survey=survey, time_zone="Europe/Berlin")
    subscribe(survey=survey, frequency="monthly")  # another frequency: not this period
    subscribe(survey=None)  # the hub-wide report: not this one

    first = report_send("--survey", str(survey.pk), "--period", "2026-W48")
    again = report_send("--survey", str(survey.pk), "--period", "2026-W48")

    assert first == f"sent subscription {weekly.pk}: 2026-W48\nSent 1 report.\n"
    assert again == f"skipped subscription {weekly.pk}: 2026-W48 (sent already)\nSent 0 reports.\n"
    assert smtp.message_ids() == [f"<report-{weekly.pk}.2026-W48@feedback.acme.example>"]
    sending = ReportSending.objects.get()
    assert (sending.subscription_id, sending.status) == (weekly.pk, "sent")
    assert sending.period_start == datetime(2026, 11, 22, 23, tzinfo=UTC)  # Monday 00:00 in Berlin


def test_a_period_not_over_yet_is_not_sent(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    subscription = subscribe(survey=None, frequency="monthly")

    out = report_send("--period", "9998-12")

    assert out == f"skipped subscription {subscription.pk}: 9998-12 (not over yet in UTC)\nSent 0 reports.\n"
    assert smtp.messages == []


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((), "give the period: --period 2026-W48 (a week) or --period 2026-11 (a month)"),
        (("--period", "2026-W54"), "'2026-W54': 2026 has no ISO week 54"),
        (("--period", "2026-13"), "'2026-13': there is no month 13"),
        (
            ("--period", "last week"),
            "'last week' is not a period: give a week as 2026-W48 or a month as 2026-11",
        ),
        (("--period", "0000-01"), "'0000-01': the year must be between 1970 and 9998"),
        (
            ("--period", "2026-W48", "--survey", "nope"),
            "no survey 'nope': give its id or slug (admin → Surveys)",
        ),
        (("--period", "2026-W48", "--survey", "9" * 40), f"no survey '{'9' * 40}': give its id or slug"),
        (("--period", "2026-W48", "--dry-run", "--time-zone", "Mars/Base"), "unknown time zone 'Mars/Base'"),
        (("--period", "2026-W48", "--time-zone", "UTC"), "--time-zone and --output go with --dry-run"),
        (("--period", "2026-W48"), "there is no active weekly subscription to this report"),
        (
            ("--period", "2026-11", "--dry-run", "--user", "nobody"),
            "'nobody' has no active monthly subscription",
        ),
        (
            ("--period", "2026-W48", "--dry-run", "--output", "/nonexistent/dir/r.eml"),
            "cannot write /nonexistent",
        ),
    ],
)
def test_bad_arguments_get_a_one_line_error(args: tuple[str, ...], error: str) -> None:
    with pytest.raises(CommandError) as raised:
        report_send(*args)

    assert error in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_period_given_up_after_its_attempts_is_skipped_with_the_reason(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    subscription = subscribe(survey=None, created_at=datetime(2026, 11, 1, tzinfo=UTC))
    report_sending_make(
        subscription,
        "2026-W48",
        status="failed",
        attempts=ReportSending.MAX_ATTEMPTS,
        error="SMTPRecipientsRefused: 550 5.1.1 No such user here",
    )

    out = report_send("--period", "2026-W48")

    assert out == (
        f"skipped subscription {subscription.pk}: 2026-W48 (given up after 5 attempts: deleting its "
        "ledger row lets it go again)\nSent 0 reports.\n"
    )
    assert smtp.messages == []
    assert ReportSending.objects.get().attempts == 5
