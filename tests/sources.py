"""The test suite's default source ("web-app"): what destinations and hub events belong to when a test
does not care which source, created on first use (the `source` fixture returns the same one)."""

from integrations.models import Source

DEFAULT_SLUG = "web-app"


def source_default() -> Source:
    source, _ = Source.objects.get_or_create(slug=DEFAULT_SLUG, defaults={"name": "Web app"})
    return source
