"""Surveys in the operations console: one module per screen, each registering its admin when imported
here."""

from surveys.admin import surveys  # noqa: F401
