from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from integrations.delivery_loop import deliveries_deliver_due


class Command(BaseCommand):
    help = "Attempt every due outbound delivery once (what the beat task does every minute)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--limit", type=int, default=200, help="At most this many attempts.")

    def handle(self, *args: Any, **options: Any) -> None:
        attempts = deliveries_deliver_due(limit=options["limit"])
        self.stdout.write(f"Attempted {attempts} deliver{'y' if attempts == 1 else 'ies'}.")
