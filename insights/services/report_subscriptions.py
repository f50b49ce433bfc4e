"""Scheduled report emails: each subscription's report of each period, claimed in the ledger, sent once.

`report_emails_send_due` is one run of the beat task "Send due report emails" (every 5 minutes):

1. for every active subscription, the period due is the latest week or month that has ended in the
   subscription's time zone and whose send time (INSIGHTS_REPORT_SEND_HOUR there, the day after) has
   come (insights/selectors.py `report_period_due`); none before the period it was created in;
2. claim it: insert the ledger row (subscription, period key) as `sending`. The pair is unique, so of
   two beat processes (or beat and `manage.py report_send`) exactly one inserts it; the other's
   insert fails and it moves on. A row that failed (fewer than MAX_ATTEMPTS times) or whose claim is
   older than INSIGHTS_REPORT_CLAIM_TIMEOUT_SECONDS (its sender died) is taken over by one
   conditional UPDATE, which also only one sender can win;
3. build the email (insights/services/report_emails.py; one report per survey, period and time zone,
   shared by their subscribers) and send it over one connection of the project's email backend; mark
   the row sent, or failed with the error.

Only the latest period is ever due: a period missed while beat was down longer than a period is not
sent afterwards (`report_send` can). Logs and errors name subscriptions and periods, never addresses.
"""

import logging
import smtplib
import socket
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from hub.errors import error_text
from insights.models import ReportSending, ReportSubscription
from insights.periods import ReportPeriod, period_parse
from insights.selectors import report_period_due, report_settled
from insights.services.report_emails import ReportCache, report_email
from insights.services.reports import READ_ANSWERS
from surveys.models import Survey

logger = logging.getLogger(__name__)

# What a staff member needs to receive reports (and to subscribe): what the admin's report pages need
# (insights/admin/reports.py), as a report quotes answers' comments and links to its page.
REPORT_PERMISSIONS = READ_ANSWERS

# The server or the network, not this message: the run stops and the claim does not count as an attempt.
SERVER_TROUBLE = (
    smtplib.SMTPServerDisconnected,
    smtplib.SMTPConnectError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)


def recipient_problem(user: Any) -> str | None:
    """Why `user` cannot receive report emails now, or None."""
    if not (user.is_active and user.is_staff):
        return "not an active staff user"
    if not user.email:
        return "no email address"
    if not user.has_perms(REPORT_PERMISSIONS):
        needed = "the permissions 'Can view survey' and 'Can view answer' are needed"
        return f"may not see the NPS reports ({needed})"
    return None


def report_sending_claim(
    *, subscription: ReportSubscription, period: ReportPeriod, now: datetime
) -> ReportSending | None:
    """The ledger row of (subscription, period), claimed by the caller; None when another sender holds
    it, it was sent, or it failed MAX_ATTEMPTS times."""
    try:
        with transaction.atomic():
            return ReportSending.objects.create(
                subscription=subscription,
                period=period.key,
                period_start=period.start,
                period_end=period.end,
                claimed_at=now,
            )
    except IntegrityError:
        pass  # the row exists: taken over only if it failed or its sender died
    stale = now - timedelta(seconds=settings.INSIGHTS_REPORT_CLAIM_TIMEOUT_SECONDS)
    again = Q(status=ReportSending.Status.FAILED) | Q(
        status=ReportSending.Status.SENDING, claimed_at__lt=stale
    )
    rows = ReportSending.objects.filter(
        again, subscription=subscription, period=period.key, attempts__lt=ReportSending.MAX_ATTEMPTS
    )
    if not rows.update(status=ReportSending.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1):
        return None
    return ReportSending.objects.get(subscription=subscription, period=period.key)


def report_sending_finish(*, sending: ReportSending, error: str = "", counted: bool = True) -> bool:
    """Mark the caller's claim sent, or failed with `error` (`counted` False: not an attempt of its
    own, the server was down); False if another sender had taken the claim over meanwhile."""
    ours = ReportSending.objects.filter(
        pk=sending.pk, status=ReportSending.Status.SENDING, claimed_at=sending.claimed_at
    )
    if not error:
        return bool(ours.update(status=ReportSending.Status.SENT, sent_at=timezone.now(), error=""))
    attempts = F("attempts") if counted else F("attempts") - 1
    return bool(ours.update(status=ReportSending.Status.FAILED, error=error[:2000], attempts=attempts))


def report_email_send(
    *,
    subscription: ReportSubscription,
    period: ReportPeriod,
    sending: ReportSending,
    connection: Any,
    cache: ReportCache | None = None,
) -> str:
    """Build and send one claimed report and mark its ledger row: '' when sent, else the error.
    Server or network trouble is raised after the row is marked (the caller stops its run)."""
    try:
        message = report_email(subscription=subscription, period=period, cache=cache)
        connection.open()  # once per run: a no-op while it stays open
        message.connection = connection
        message.send()
    except SERVER_TROUBLE as exc:
        report_sending_finish(sending=sending, error=error_text(exc), counted=False)
        raise
    except Exception as exc:  # this message's trouble (building it, its recipient): it alone fails
        error = error_text(exc)
        logger.warning("report %s of subscription %s failed: %s", period.key, subscription.pk, error)
        report_sending_finish(sending=sending, error=error)
        return error
    report_sending_finish(sending=sending)
    return ""


@dataclass
class ReportRun:
    """What one run did, by subscription id and period (never an address)."""

    sent: list[str] = field(default_factory=list)  # "subscription 3: 2026-W48"
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # recipients who cannot receive reports now

    def lines(self) -> list[str]:
        return [
            *(f"sent {line}" for line in self.sent),
            *(f"failed {line}" for line in self.failed),
            *(f"skipped {line}" for line in self.skipped),
        ]


def report_emails_send(
    *, due: list[tuple[ReportSubscription, ReportPeriod]], now: datetime, run: ReportRun | None = None
) -> ReportRun:
    """Claim and send each (subscription, period) not sent yet, over one connection."""
    run = run or ReportRun()
    cache: ReportCache = {}
    connection = get_connection()
    try:
        for subscription, period in due:
            line = f"subscription {subscription.pk}: {period.key}"
            if (problem := recipient_problem(subscription.user)) is not None:
                run.skipped.append(f"{line} ({problem})")
                continue
            sending = report_sending_claim(subscription=subscription, period=period, now=now)
            if sending is None:
                continue  # sent, being sent by another run, or given up
            try:
                error = report_email_send(
                    subscription=subscription,
                    period=period,
                    sending=sending,
                    connection=connection,
                    cache=cache,
                )
            except SERVER_TROUBLE as exc:
                run.failed.append(f"{line} ({error_text(exc)}; the rest waits for the next run)")
                logger.warning("report emails: the mail server is unavailable (%s)", type(exc).__name__)
                break
            (run.failed if error else run.sent).append(f"{line} ({error})" if error else line)
    finally:
        connection.close()
    return run


def report_subscriptions_of(
    *, survey: Survey | None, period: ReportPeriod, username: str | None = None
) -> QuerySet[ReportSubscription]:
    """The active subscriptions to `survey`'s report (hub-wide: None) at the period's frequency."""
    subscriptions = ReportSubscription.objects.filter(
        active=True, survey=survey, frequency=period.frequency.value
    ).select_related("user", "survey")
    if username is not None:
        subscriptions = subscriptions.filter(user__username=username)
    return subscriptions.order_by("pk")


def report_emails_send_period(
    *, survey: Survey | None, period: ReportPeriod, username: str | None = None, now: datetime | None = None
) -> ReportRun:
    """`manage.py report_send`: the report of `period` to each subscriber of `survey` (one of them with
    `username`), in their time zone, through the ledger: one who has it already, or whose sending was
    given up after MAX_ATTEMPTS, is skipped with the reason (deleting the ledger row lets it go again).
    A period that has not ended in a subscriber's time zone is skipped for them."""
    now = now or timezone.now()
    run = ReportRun()
    due = []
    for subscription in report_subscriptions_of(survey=survey, period=period, username=username):
        theirs = period_parse(period.key, zone=subscription.time_zone)
        if theirs.end > now:
            run.skipped.append(
                f"subscription {subscription.pk}: {period.key} (not over yet in {theirs.zone})"
            )
        elif settled := report_settled(subscription=subscription, period=theirs):
            run.skipped.append(f"subscription {subscription.pk}: {period.key} ({settled})")
        else:
            due.append((subscription, theirs))
    return report_emails_send(due=due, now=now, run=run)


def report_emails_send_due(*, now: datetime | None = None) -> ReportRun:
    """One beat run: every active subscription's due report that the ledger holds neither as sent nor
    as given up."""
    now = now or timezone.now()
    due = []
    for subscription in ReportSubscription.objects.filter(active=True).select_related("user", "survey"):
        period = report_period_due(subscription=subscription, now=now)
        if period is not None and not report_settled(subscription=subscription, period=period):
            due.append((subscription, period))
    due.sort(key=lambda pair: (pair[1].key, pair[0].pk))
    run = report_emails_send(due=due, now=now)
    for line in [*run.sent, *run.failed]:
        logger.info("report emails: %s %s", "sent" if line in run.sent else "failed", line)
    return run
