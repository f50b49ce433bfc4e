from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from integrations.models import Source, WriteKey, write_key_hash
from integrations.services import source_create


class Command(BaseCommand):
    help = "Create a Segment source and print its write key (generated unless --write-key is given)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", help="What the source is, e.g. 'Production web app'.")
        parser.add_argument("--slug", help="Unique short name; derived from the name when omitted.")
        parser.add_argument("--write-key", help="Use this write key instead of generating one.")

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["name"]
        slug: str = options["slug"] or slugify(name)
        if not slug:
            raise CommandError("Give a name with letters or digits, or a --slug.")
        if Source.objects.filter(slug=slug).exists():
            raise CommandError(f"A source with slug {slug!r} exists already.")
        key = options["write_key"]
        if key is not None and (
            len(key) < 8 or WriteKey.objects.filter(key_hash=write_key_hash(key)).exists()
        ):
            raise CommandError("That write key is too short (8+ characters) or already in use.")
        source, key = source_create(name=name, slug=slug, write_key=key)
        self.stdout.write(f"Created source {source.name!r} (slug {source.slug}).")
        self.stdout.write(f"Write key: {key}")
