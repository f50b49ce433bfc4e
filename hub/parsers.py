"""The management API's request body parsers: total (hub/cleaning.py), so no body answers 500.

Kept apart from hub/api.py: DRF imports these while its own views module is still loading.
"""

from typing import Any

from rest_framework import exceptions, parsers

from hub.cleaning import JSONInvalid, parse_json, unstorable_problem


def _refuse_unstorable(data: Any) -> None:
    """The management API refuses (rather than cleans) what it could not store: scripts learn of it."""
    problem = unstorable_problem(data)
    if problem is not None:
        raise exceptions.ParseError(problem)


class JSONParser(parsers.BaseParser):
    """JSON bodies, parsed by hub.cleaning.parse_json: bounded depth, no U+0000, no lone surrogates."""

    media_type = "application/json"

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = parse_json(stream.read())
        except JSONInvalid as exc:
            raise exceptions.ParseError(str(exc)) from exc
        _refuse_unstorable(data)
        return data


class FormParser(parsers.FormParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        _refuse_unstorable(dict(data.lists()))
        return data


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        parsed = super().parse(stream, media_type, parser_context)
        _refuse_unstorable(dict(parsed.data.lists()))
        return parsed
