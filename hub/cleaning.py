"""One cleaner for text and JSON from outside: ids, query parameters, form fields, trait values, payloads.

Whatever the input, what comes out
- can be stored by PostgreSQL: U+0000 (text and jsonb refuse it) and lone surrogates (not UTF-8)
  become U+FFFD, so a changed value still looks changed;
- is single-line unless asked otherwise: line breaks and other control characters (each run) become
  one space, so an id, a name or a language can never start a new mail or HTTP header;
- is as long as the caller allows;
- for JSON, was walked iteratively and never deeper than `MAX_JSON_DEPTH` levels: too deep is an
  answer ("invalid"), not a RecursionError.

The intake and query parameters are cleaned (Segment keeps what it can; hub/middleware.py); the
management API's bodies and the admin's JSON boxes refuse what would be cleaned, so a script or a
person learns about it (hub/parsers.py, hub/admin.py).
"""

import re
from collections.abc import Mapping
from typing import Any

import orjson

from hub.errors import RequestError

# Containers inside containers: Segment payloads use a handful of levels. Deeper JSON is refused
# well before orjson (255 levels) or Python's json (the recursion limit) would fail on it later.
MAX_JSON_DEPTH = 64
# What stands for a container cut by `clean_json`.
TOO_DEEP = "[nested too deep]"
# Database ids are bigint.
_ID_MAX = 2**63 - 1

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# C0 and C1 controls (CR, LF, TAB, ESC ...), DEL, and Unicode's line and paragraph separators.
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_CONTROLS_BUT_LINES = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]+")  # keeps TAB, LF, CR


class JSONInvalid(ValueError):
    """A JSON text refused as a whole; the message says why, for people."""


def text_unstorable(value: str) -> bool:
    """Whether `value` holds what PostgreSQL cannot store (U+0000, a lone surrogate)."""
    return _UNSTORABLE.search(value) is not None


def clean_text(value: str, *, max_length: int | None = None, multiline: bool = False) -> str:
    """`value` safe to store and, unless `multiline`, safe in a header.

    >>> clean_text("Ann\\r\\nBcc: x@example.com")
    'Ann Bcc: x@example.com'
    """
    # Printable text (most ids and names) has none of what is replaced: the C-fast way out.
    if not value.isprintable():
        value = _UNSTORABLE.sub("\ufffd", value)
        value = (_CONTROLS_BUT_LINES if multiline else _CONTROLS).sub(" ", value)
    return value if max_length is None else value[:max_length]


def nested_too_deep(value: Any, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """Whether `value` nests objects and arrays more than `max_depth` levels (`{}` is one level)."""
    level = [value] if isinstance(value, dict | list) else []
    depth = 0
    while level:  # one level at a time: no recursion, whatever the depth
        depth += 1
        if depth > max_depth:
            return True
        level = [
            child
            for item in level
            for child in (item.values() if isinstance(item, dict) else item)
            if isinstance(child, (dict, list))  # the tuple: faster than dict | list here
        ]
    return False


def clean_json(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> tuple[Any, bool]:
    """A copy of `value` PostgreSQL can store, and whether anything was cut: every string (keys too)
    as `clean_text(multiline=True)` would leave it stored, containers deeper than `max_depth` replaced
    by TOO_DEEP."""
    pending: list[tuple[Any, Any, int]] = []
    cut = False

    def copy(item: Any, depth: int) -> Any:
        nonlocal cut
        if isinstance(item, str):
            return _UNSTORABLE.sub("\ufffd", item)
        if not isinstance(item, dict | list):
            return item
        if depth > max_depth:
            cut = True
            return TOO_DEEP
        target: Any = {} if isinstance(item, dict) else []
        pending.append((item, target, depth))
        return target

    root = copy(value, 1)
    while pending:
        source, target, depth = pending.pop()
        if isinstance(source, dict):
            for key, child in source.items():
                target[copy(key, depth) if isinstance(key, str) else key] = copy(child, depth + 1)
        else:
            target.extend([copy(child, depth + 1) for child in source])
    return root, cut


def unstorable_path(data: Any) -> str | None:
    """Where the first text PostgreSQL cannot store is in `data`, e.g. "triggers[0].source" (or
    "the body" for `data` itself); None when there is none. Iterative."""
    stack: list[tuple[Any, str]] = [(data, "")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, str):
            if text_unstorable(value):
                return path or "the body"
        elif isinstance(value, Mapping):
            for key, child in value.items():
                if isinstance(key, str) and text_unstorable(key):
                    return f"{path}.{key!r}".lstrip(".")
                stack.append((child, f"{path}.{key}".lstrip(".")))
        elif isinstance(value, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(value))
    return None


def unstorable_problem(data: Any) -> str | None:
    """What the admin's forms and the management API say of `data` holding text PostgreSQL cannot store,
    naming where (`unstorable_path`); None when all of it can be stored."""
    where = unstorable_path(data)
    return None if where is None else f"U+0000 (NUL) cannot be stored ({where})."


def parse_json(data: bytes | str, *, max_depth: int | None = MAX_JSON_DEPTH, what: str = "This") -> Any:
    """Parse JSON text, refusing (JSONInvalid) what is not JSON or nests more than `max_depth` levels
    (None: any depth). `what` names the text in the message ("This is not valid JSON: ...")."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise JSONInvalid(f"{what} is not valid JSON: {exc}") from exc
    if max_depth is not None and nested_too_deep(value, max_depth):
        raise JSONInvalid(f"This JSON nests objects or arrays more than {max_depth} levels deep.")
    return value


def json_object_parse(
    raw: bytes, *, max_depth: int | None = MAX_JSON_DEPTH, what: str = "This"
) -> dict[str, Any]:
    """A request body that must be a JSON object (a webhook's, a collector call's, a Segment call's),
    or a RequestError 400 "invalid_json" saying why. See `parse_json` for `max_depth` and `what`."""
    try:
        body = parse_json(raw, max_depth=max_depth, what=what)
    except JSONInvalid as exc:
        raise RequestError(400, "invalid_json", str(exc)) from exc
    if not isinstance(body, dict):
        raise RequestError(400, "invalid_json", "The body must be a JSON object.")
    return body


def parse_id(text: object) -> int | None:
    """A database id written in ASCII digits, or None ('²'.isdigit() is true, int('²') fails)."""
    if not isinstance(text, str) or not 0 < len(text) <= 19 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= _ID_MAX else None
