import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from surveys.services.sync_back import sync_back_destinations, sync_back_run

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Sync the latest NPS answers back to Segment now (what the daily beat task does): one identify "
        "per person whose latest response changed since the last successful sync."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", help="Only the Segment destinations syncing this source (slug).")
        parser.add_argument("--destination", type=int, help="Only this destination (id).")
        parser.add_argument(
            "--dry-run", action="store_true", help="Count and build the batches; send nothing."
        )
        parser.add_argument(
            "--full",
            action="store_true",
            help="From the beginning: send every person's latest answer again (the same messageIds).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # A destination named by id is synced even when disabled (a dry run shows what it would send).
        destinations = sync_back_destinations(enabled_only=not options["destination"])
        if options["source"]:
            destinations = destinations.filter(source__slug=options["source"])
        if options["destination"]:
            destinations = destinations.filter(pk=options["destination"])
        if not destinations:
            raise CommandError("No Segment destination matches (admin → Integrations → Destinations).")
        failed = False
        for destination in destinations:
            self.stdout.write(f"{destination.name} (destination {destination.pk}):")
            report = sync_back_run(
                destination=destination,
                dry_run=options["dry_run"],
                full=options["full"],
                progress=self._progress,
            )
            self.stdout.write("\n" + report.summary())
            failed = failed or report.status not in ("done",)
        if failed:
            raise CommandError("Not everything was sent; see above (a later run goes on from there).")

    def _progress(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        line = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done:,}/{total:,} responses"
        if sys.stdout.isatty():  # redraw in place; plain lines in logs and pipes
            self.stdout.write("\r" + line, ending="")
            self.stdout.flush()
        else:
            self.stdout.write(line)
