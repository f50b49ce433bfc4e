"""Insights in the operations console: one module per screen, each registering its admin when
imported here."""

from insights.admin import comments, reports, subscriptions  # noqa: F401
