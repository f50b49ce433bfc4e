from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from surveys.services.dispatch import DispatchReport, invitations_dispatch_backlog, invitations_dispatch_due


class Command(BaseCommand):
    help = "Send the survey invitations that are due now, as the beat task does, and print each one."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="One batch only, not the whole backlog.")
        parser.add_argument("--limit", type=int, help="Invitations per batch; default SURVEY_DISPATCH_BATCH.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["once"]:
            reports = [invitations_dispatch_due(limit=options["limit"])]
            self._print(reports[0])
        else:
            reports = invitations_dispatch_backlog(limit=options["limit"], on_report=self._print)
        sent = sum(len(report.sent) for report in reports)
        self.stdout.write(f"Sent {sent} invitation{'' if sent == 1 else 's'}.")

    def _print(self, report: DispatchReport) -> None:
        if report.expired:
            self.stdout.write(f"expired {report.expired} unanswered invitations")
        for line in report.lines():
            self.stdout.write(line)
        self.stdout.flush()
