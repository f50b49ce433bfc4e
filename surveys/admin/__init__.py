"""Surveys in the operations console: one module per screen, each registering its admin when imported
here. The survey's own pages (preview, send test, why (not) surveyed) are mixins of its admin."""

from surveys.admin import collectors, invitations, policy, responses, surveys  # noqa: F401
