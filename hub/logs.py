"""Log lines that name no one. A log is kept longer and read by more people than the rows it speaks
of, so an error in a log line is written as `hub.errors.error_text` writes it (its class and message
without quoted values or addresses), both in its traceback and as a value of the message (Celery's
"Task … raised unexpected: %(exc)s"). The traceback keeps its frames and chained errors.

Django's LOGGING formats with `NamingNoOne` (hub/settings.py); the Celery worker keeps Django's
LOGGING instead of installing its own handlers (hub/celery.py)."""

import logging
import traceback
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from hub.errors import error_text

_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


def _said(value: Any, error: BaseException | None) -> Any:
    """An error among a message's values as error_text writes it; so is the text of the record's own
    error (Celery passes `repr(exc)`)."""
    if isinstance(value, BaseException):
        return error_text(value)
    if error is not None and isinstance(value, str) and value in (str(error), repr(error)):
        return error_text(error)
    return value


def _traceback(error: BaseException, seen: set[int]) -> list[str]:
    """Python's own traceback of `error` and the errors it was raised from, each error's line as
    error_text writes it."""
    seen.add(id(error))
    lines: list[str] = []
    if error.__cause__ is not None and id(error.__cause__) not in seen:
        lines += [*_traceback(error.__cause__, seen), _CAUSE]
    elif (
        error.__context__ is not None and not error.__suppress_context__ and id(error.__context__) not in seen
    ):
        lines += [*_traceback(error.__context__, seen), _CONTEXT]
    if error.__traceback__ is not None:
        lines += ["Traceback (most recent call last):\n", *traceback.format_tb(error.__traceback__)]
    return [*lines, f"{error_text(error)}\n"]


class NamingNoOne(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        error = record.exc_info[1] if record.exc_info else None
        given = record.args
        args: Any = given
        changed = False
        if isinstance(given, Mapping):
            args = {key: _said(value, error) for key, value in given.items()}
            changed = any(args[key] is not value for key, value in given.items())
        elif isinstance(given, tuple):
            args = tuple(_said(value, error) for value in given)
            changed = any(a is not b for a, b in zip(args, given, strict=True))
        msg = _said(record.msg, None)
        if changed or msg is not record.msg or error is not None:
            # A copy: other handlers of the same record get it as it was, and a traceback another
            # handler formatted first (logging caches it in exc_text) is written anew.
            record = logging.makeLogRecord({**record.__dict__, "msg": msg, "args": args, "exc_text": None})
        return super().format(record)

    def formatException(self, ei: ExcInfo) -> str:
        error = ei[1]
        if error is None:
            return ""
        return "".join(_traceback(error, set())).rstrip("\n")
