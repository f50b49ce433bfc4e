"""Beat sends each subscription's report once per logical period: the ledger holds it, daylight-saving
changes move the period with the local calendar, and two beat processes send one email between them."""

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine

from insights.models import ReportSending, ReportSubscription
from insights.services.report_subscriptions import report_emails_send_due
from insights.tasks import report_emails_send_due as beat_task
from tests.hub.test_settings import PRODUCTION_ENV, django_check
from tests.insights.answers import answer_make
from tests.insights.factories import report_sending_make
from tests.surveys.conftest import SmtpRecorder, free_port
from tests.surveys.factories import survey_make
from tests.threads import in_threads

pytestmark = pytest.mark.django_db


def ticks(start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
    moment = start
    while moment < end:
        yield moment
        moment += every


def beat_runs(
    start: datetime, end: datetime, every: timedelta = timedelta(minutes=30)
) -> dict[str, datetime]:
    """Run the beat task at every tick from `start` to `end`, on a moved clock; {period: first sent at}."""
    sent_at: dict[str, datetime] = {}
    with time_machine.travel(start, tick=False) as traveller:
        for moment in ticks(start, end, every):
            traveller.move_to(moment)
            beat_task()
            for period in ReportSending.objects.filter(status="sent").values_list("period", flat=True):
                sent_at.setdefault(period, moment)
    return sent_at


def n_in_report(message: Any) -> str:
    text = next(part for part in message.walk() if part.get_content_type() == "text/plain").get_content()
    return text.split("Score: ", 1)[1].split("\n", 1)[0].strip()


@pytest.mark.parametrize(
    ("zone", "frequency", "inside", "outside", "ticks_from", "key", "bounds", "first_send"),
    [
        pytest.param(
            # Spring forward on Sunday 29 March 2026 (02:00 CET -> 03:00 CEST): week 13 is 167 hours.
            "Europe/Berlin",
            "weekly",
            [datetime(2026, 3, 22, 23, 30, tzinfo=UTC), datetime(2026, 3, 29, 21, 30, tzinfo=UTC)],
            [datetime(2026, 3, 22, 22, 30, tzinfo=UTC), datetime(2026, 3, 29, 22, 30, tzinfo=UTC)],
            datetime(2026, 3, 28, tzinfo=UTC),
            "2026-W13",
            (datetime(2026, 3, 22, 23, tzinfo=UTC), datetime(2026, 3, 29, 22, tzinfo=UTC)),
            datetime(2026, 3, 30, 5, tzinfo=UTC),  # 07:00 CEST
            id="EU spring forward, weekly",
        ),
        pytest.param(
            # Fall back on Sunday 25 October 2026 (03:00 CEST -> 02:00 CET): week 43 is 169 hours.
            "Europe/Berlin",
            "weekly",
            [datetime(2026, 10, 18, 22, 30, tzinfo=UTC), datetime(2026, 10, 25, 22, 30, tzinfo=UTC)],
            [datetime(2026, 10, 18, 21, 30, tzinfo=UTC), datetime(2026, 10, 25, 23, 30, tzinfo=UTC)],
            datetime(2026, 10, 24, tzinfo=UTC),
            "2026-W43",
            (datetime(2026, 10, 18, 22, tzinfo=UTC), datetime(2026, 10, 25, 23, tzinfo=UTC)),
            datetime(2026, 10, 26, 6, tzinfo=UTC),  # 07:00 CET
            id="EU fall back, weekly",
        ),
        pytest.param(
            # Spring forward on Sunday 8 March 2026 (02:00 EST -> 03:00 EDT).
            "America/New_York",
            "weekly",
            [datetime(2026, 3, 2, 5, 30, tzinfo=UTC), datetime(2026, 3, 9, 3, 30, tzinfo=UTC)],
            [datetime(2026, 3, 2, 4, 30, tzinfo=UTC), datetime(2026, 3, 9, 4, 30, tzinfo=UTC)],
            datetime(2026, 3, 7, tzinfo=UTC),
            "2026-W10",
            (datetime(2026, 3, 2, 5, tzinfo=UTC), datetime(2026, 3, 9, 4, tzinfo=UTC)),
            datetime(2026, 3, 9, 11, tzinfo=UTC),  # 07:00 EDT
            id="US spring forward, weekly",
        ),
        pytest.param(
            # Fall back on Sunday 1 November 2026 (02:00 EDT -> 01:00 EST), the first day of the month.
            "America/New_York",
            "monthly",
            [datetime(2026, 10, 1, 4, 30, tzinfo=UTC), datetime(2026, 11, 1, 3, 30, tzinfo=UTC)],
            [datetime(2026, 10, 1, 3, 30, tzinfo=UTC), datetime(2026, 11, 1, 4, 30, tzinfo=UTC)],
            datetime(2026, 10, 31, tzinfo=UTC),
            "2026-10",
            (datetime(2026, 10, 1, 4, tzinfo=UTC), datetime(2026, 11, 1, 4, tzinfo=UTC)),
            datetime(2026, 11, 1, 12, tzinfo=UTC),  # 07:00 EST
            id="US fall back, monthly",
        ),
    ],
)
def test_a_period_across_a_dst_change_is_sent_once_with_the_answers_of_its_local_calendar(
    smtp: SmtpRecorder,
    subscribe: Callable[..., ReportSubscription],
    zone: str,
    frequency: str,
    inside: list[datetime],
    outside: list[datetime],
    ticks_from: datetime,
    key: str,
    bounds: tuple[datetime, datetime],
    first_send: datetime,
) -> None:
    survey = survey_make()
    for moment in inside:
        answer_make(survey=survey, rating=10, at=moment)
    for moment in outside:
        answer_make(survey=survey, rating=0, at=moment)
    # subscribed during the period: the period before it is not due
    subscription = subscribe(survey=survey, frequency=frequency, time_zone=zone, created_at=bounds[0])

    sent_at = beat_runs(ticks_from, ticks_from + timedelta(days=3))

    assert sent_at == {key: first_send}
    assert len(smtp.messages) == 1
    assert n_in_report(smtp.messages[0]).startswith("+100 ± 0.0 (n = 2")  # only the two inside answers
    sending = ReportSending.objects.get(subscription=subscription)
    assert (sending.period, sending.period_start, sending.period_end) == (key, *bounds)


def test_the_send_hour_repeated_by_a_fall_back_night_still_sends_once(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription], settings: Any
) -> None:
    """01:00-02:00 happens twice in New York on 1 November 2026; the report of October goes at the first."""
    settings.INSIGHTS_REPORT_SEND_HOUR = 1
    subscribe(
        survey=survey_make(),
        frequency="monthly",
        time_zone="America/New_York",
        created_at=datetime(2026, 10, 5, tzinfo=UTC),
    )

    sent_at = beat_runs(
        datetime(2026, 11, 1, 4, tzinfo=UTC), datetime(2026, 11, 1, 8, tzinfo=UTC), every=timedelta(minutes=5)
    )

    assert sent_at == {"2026-10": datetime(2026, 11, 1, 5, tzinfo=UTC)}  # 01:00 EDT, not 01:00 EST again
    assert len(smtp.messages) == 1


def test_the_first_report_is_of_the_period_the_subscription_began_in(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    subscribe(survey=survey_make(), created_at=datetime(2026, 11, 25, 9, tzinfo=UTC))  # Wednesday, week 48

    sent_at = beat_runs(
        datetime(2026, 11, 26, tzinfo=UTC), datetime(2026, 12, 8, 12, tzinfo=UTC), timedelta(hours=1)
    )

    assert sent_at == {
        "2026-W48": datetime(2026, 11, 30, 7, tzinfo=UTC),
        "2026-W49": datetime(2026, 12, 7, 7, tzinfo=UTC),
    }
    assert len(smtp.messages) == 2


@pytest.mark.django_db(transaction=True)
def test_two_beat_processes_at_once_send_one_email_per_subscription(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    """On PostgreSQL the second insert of a ledger row waits for the first and then fails; SQLite
    serialises the writers."""
    survey = survey_make()
    answer_make(survey=survey, rating=9, at=datetime(2026, 11, 25, tzinfo=UTC))
    subscriptions = [subscribe(survey=survey, created_at=datetime(2026, 11, 1, tzinfo=UTC)) for _ in range(4)]
    smtp.delay = 0.05
    now = datetime(2026, 11, 30, 8, tzinfo=UTC)

    def beat() -> Any:
        return report_emails_send_due(now=now)

    runs = in_threads(beat, beat)  # raises what a beat process raised

    assert sorted(smtp.message_ids()) == sorted(
        f"<report-{s.pk}.2026-W48@feedback.acme.example>" for s in subscriptions
    )
    assert sum(len(run.sent) for run in runs) == 4
    assert set(ReportSending.objects.values_list("status", "attempts")) == {("sent", 1)}


def test_a_failed_sending_is_retried_by_the_next_run_and_then_sent_once(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    subscription = subscribe(survey=survey_make(), created_at=datetime(2026, 11, 1, tzinfo=UTC))
    smtp.refuse.add(subscription.user.email)
    now = datetime(2026, 11, 30, 8, tzinfo=UTC)

    first = report_emails_send_due(now=now)
    smtp.refuse.clear()
    second = report_emails_send_due(now=now + timedelta(minutes=5))
    third = report_emails_send_due(now=now + timedelta(minutes=10))

    assert first.failed == [
        f"subscription {subscription.pk}: 2026-W48 (SMTPRecipientsRefused: 550 5.1.1 No such user here)"
    ]
    assert subscription.user.email not in first.failed[0]
    assert (second.sent, third.sent) == ([f"subscription {subscription.pk}: 2026-W48"], [])
    assert len(smtp.messages) == 1
    sending = ReportSending.objects.get()
    assert (sending.status, sending.attempts, sending.error) == ("sent", 2, "")


def test_a_mail_server_that_is_down_leaves_the_report_for_the_next_run_without_using_an_attempt(
    smtp_server: tuple[SmtpRecorder, int], subscribe: Callable[..., ReportSubscription], settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", free_port()  # nobody listens
    subscriptions = [subscribe(survey=None, created_at=datetime(2026, 11, 1, tzinfo=UTC)) for _ in range(2)]
    now = datetime(2026, 11, 30, 8, tzinfo=UTC)

    down = report_emails_send_due(now=now)
    settings.EMAIL_PORT = smtp_server[1]
    up = report_emails_send_due(now=now + timedelta(minutes=5))

    assert len(down.failed) == 1
    assert "the rest waits for the next run" in down.failed[0]
    assert len(up.sent) == 2
    assert len(smtp_server[0].messages) == 2
    assert set(ReportSending.objects.values_list("status", "attempts")) == {("sent", 1)}
    assert {s.pk for s in subscriptions} == set(ReportSending.objects.values_list("subscription", flat=True))


def test_a_claim_whose_sender_died_is_taken_over_after_the_timeout_and_not_before(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription], settings: Any
) -> None:
    settings.INSIGHTS_REPORT_CLAIM_TIMEOUT_SECONDS = 900
    subscription = subscribe(survey=survey_make(), created_at=datetime(2026, 11, 1, tzinfo=UTC))
    now = datetime(2026, 11, 30, 8, tzinfo=UTC)
    # a sender claimed it and died before sending
    report_sending_make(subscription, "2026-W48", claimed_at=now)

    soon = report_emails_send_due(now=now + timedelta(minutes=10))
    later = report_emails_send_due(now=now + timedelta(minutes=20))

    assert (soon.sent, later.sent) == ([], [f"subscription {subscription.pk}: 2026-W48"])
    assert len(smtp.messages) == 1


def test_a_subscriber_who_may_no_longer_see_answers_gets_nothing(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    subscription = subscribe(survey=survey_make(), created_at=datetime(2026, 11, 1, tzinfo=UTC))
    subscription.user.user_permissions.clear()

    run = report_emails_send_due(now=datetime(2026, 11, 30, 8, tzinfo=UTC))

    assert run.sent == []
    assert smtp.messages == []
    assert run.skipped == [
        f"subscription {subscription.pk}: 2026-W48 (may not see the NPS reports "
        "(the permissions 'Can view survey' and 'Can view answer' are needed))"
    ]
    assert not ReportSending.objects.exists()


def test_the_send_hour_is_an_hour_of_the_day() -> None:
    six = django_check(
        {**PRODUCTION_ENV, "INSIGHTS_REPORT_SEND_HOUR": "6"}, show="settings.INSIGHTS_REPORT_SEND_HOUR"
    )
    too_late = django_check({**PRODUCTION_ENV, "INSIGHTS_REPORT_SEND_HOUR": "24"})

    assert (six.returncode, six.stdout.strip()) == (0, "6")
    assert too_late.returncode != 0
    assert "INSIGHTS_REPORT_SEND_HOUR is an hour of the day, 0 to 23." in too_late.stderr
