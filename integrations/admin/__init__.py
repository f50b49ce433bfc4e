"""The operations console for sources, the event log, attribute mappings, destinations and deliveries:
one module per screen, each registering its admin when imported here."""

from integrations.admin import deliveries, destinations, events, mappings, other_apps, sources  # noqa: F401
