from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.cleaning import parse_id
from insights.periods import PeriodError, period_parse
from insights.services.report_emails import report_email
from insights.services.report_subscriptions import report_emails_send_period, report_subscriptions_of
from surveys.models import Survey


class Command(BaseCommand):
    help = (
        "Send the report email of one period to the survey's subscribers, through the ledger (a subscriber "
        "who has it already is skipped), or render it with --dry-run."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        # Checked in handle(), not by argparse, so that every mistake is one line.
        parser.add_argument("--period", help="An ISO week (2026-W48) or a month (2026-11).")
        parser.add_argument("--survey", help="The survey's id or slug; left out: the hub-wide report.")
        parser.add_argument("--user", help="Only this subscriber (username).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Render the email without sending or recording it."
        )
        parser.add_argument(
            "--time-zone",
            help="With --dry-run: the time zone of the period (default: --user's subscription's, else UTC).",
        )
        parser.add_argument(
            "--output", help="With --dry-run: write the whole message (.eml, chart included) to this file."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not options["period"]:
            raise CommandError("give the period: --period 2026-W48 (a week) or --period 2026-11 (a month)")
        survey = self._survey(options["survey"])
        try:
            period = period_parse(options["period"], zone=options["time_zone"] or "UTC")
        except PeriodError as exc:
            raise CommandError(str(exc)) from exc
        if not options["dry_run"]:
            if options["time_zone"] or options["output"]:
                raise CommandError(
                    "--time-zone and --output go with --dry-run (a sending uses each subscriber's)"
                )
            self._send(survey=survey, period=period, username=options["user"])
            return
        subscription = None
        if options["user"]:
            subscription = report_subscriptions_of(
                survey=survey, period=period, username=options["user"]
            ).first()
            if subscription is None:
                raise CommandError(
                    f"{options['user'][:60]!r} has no active {period.frequency} subscription to this report"
                )
            if not options["time_zone"]:
                period = period_parse(period.key, zone=subscription.time_zone)
        message = report_email(subscription=subscription, survey=survey, period=period)
        if options["output"]:
            try:
                Path(options["output"]).write_bytes(message.message().as_bytes())
            except OSError as exc:
                raise CommandError(f"cannot write {options['output']}: {exc.strerror}") from exc
            self.stdout.write(f"Wrote the report of {period.key} ({period.zone}) to {options['output']}.")
            return
        self.stdout.write(f"Subject: {message.subject}\n\n{message.body}")

    def _survey(self, reference: str | None) -> Survey | None:
        if reference is None:
            return None
        survey_id = parse_id(reference)
        survey = Survey.objects.filter(pk=survey_id).first() if survey_id is not None else None
        survey = survey or Survey.objects.filter(slug=reference[:100]).first()
        if survey is None:
            raise CommandError(f"no survey {reference[:60]!r}: give its id or slug (admin → Surveys)")
        return survey

    def _send(self, *, survey: Survey | None, period: Any, username: str | None) -> None:
        if not report_subscriptions_of(survey=survey, period=period, username=username).exists():
            who = f"{username[:60]!r} has" if username else "there is"
            raise CommandError(
                f"{who} no active {period.frequency} subscription to this report "
                "(admin → Insights → Report subscriptions)"
            )
        run = report_emails_send_period(survey=survey, period=period, username=username)
        for line in run.lines():
            self.stdout.write(line)
        self.stdout.write(f"Sent {len(run.sent)} report{'' if len(run.sent) == 1 else 's'}.")
        if run.failed:
            raise CommandError(
                f"{len(run.failed)} report(s) failed; see above (the beat task retries the latest period)"
            )
