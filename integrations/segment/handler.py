"""Segment HTTP Tracking API, inbound: decode, authenticate and validate calls. Pure: no database.

The view hands over raw bytes and headers; this module returns the write key it found and one
`ParsedEvent` per call, each either accepted or rejected with a reason, so one bad event in a batch
never sinks its siblings. Whole-request problems (bad JSON, over a size limit) raise
`hub.errors.RequestError`.
Facts: shared/reference/protocols.md §1-2 and the gotchas.
"""

import base64
import uuid
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

import orjson

from hub.cleaning import MAX_JSON_DEPTH, clean_json, clean_text, nested_too_deep
from hub.errors import RequestError
from hub.timeparse import EARLIEST, LATEST, parse_datetime
from integrations.base import SettingsSchema
from integrations.segment.calls import CALL_TYPES, UNKNOWN_CALL_TYPE

EVENT_TYPES = frozenset(CALL_TYPES)
_ID_MAX = 255
_MESSAGE_ID_MAX = 100
_EXCERPT_BYTES = 2048


@dataclass(slots=True)
class ParsedEvent:
    """One call, ready to store: the columns of the event log plus the payload as JSON text."""

    message_id: str
    type: str
    user_id: str
    anonymous_id: str
    event: str
    timestamp: datetime | None
    original_timestamp: datetime | None
    sent_at: datetime | None
    payload: str
    rejected: bool
    reason: str


@dataclass(slots=True)
class Limits:
    max_event_bytes: int
    max_batch_bytes: int
    max_batch_events: int


def body_decode(raw: bytes, content_encoding: str, limits: Limits) -> bytes:
    """Undo `Content-Encoding: gzip` (capped: a small bomb cannot expand past the batch limit)."""
    encoding = content_encoding.strip().lower()
    if encoding in ("", "identity"):
        data = raw
    elif encoding in ("gzip", "x-gzip", "deflate"):
        # wbits 47 reads gzip and zlib; max_length stops inflating one byte past the limit.
        inflater = zlib.decompressobj(47)
        try:
            data = inflater.decompress(raw, limits.max_batch_bytes + 1)
        except zlib.error as exc:
            raise RequestError(400, "invalid_gzip", f"The body is not valid {encoding}: {exc}") from exc
        if len(data) <= limits.max_batch_bytes and not inflater.eof:
            raise RequestError(400, "invalid_gzip", f"The {encoding} body is truncated.")
    else:
        raise RequestError(415, "unsupported_encoding", f"Content-Encoding {encoding!r} is not supported.")
    if len(data) > limits.max_batch_bytes:
        raise RequestError(
            400, "request_too_large", f"The request body is larger than {limits.max_batch_bytes} bytes."
        )
    return data


def write_key_find(authorization: str, body: dict[str, Any]) -> str | None:
    """The write key from HTTP Basic (key as username, empty password) or from the body's writeKey.

    A Bearer header (OAuth clients) carries no write key; it is ignored, and so is a malformed
    Basic header when the body has a writeKey (gotcha 3).
    """
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "basic" and credentials:
        try:
            decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
        except ValueError:  # not base64 (binascii.Error), not ASCII ("Basic éé"), not UTF-8 inside
            decoded = ""
        username = decoded.partition(":")[0]
        if username:
            return username
    key = body.get("writeKey")
    return key if isinstance(key, str) and key else None


def _as_id(value: object) -> str | None:
    """Segment ids are strings; raw HTTP callers send numbers too. None when absent or unusable.

    Cleaned (hub/cleaning.py) the same way in the columns and in the payload, so they always agree.
    """
    if isinstance(value, str):
        return clean_text(value) or None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    return None


def _shown(value: object) -> str:
    """A value in a reason, short whatever it is (a repr of deep JSON would recurse)."""
    if isinstance(value, str | int | float | bool) or value is None:
        return repr(value)[:80]
    return f"a JSON {'object' if isinstance(value, dict) else 'array'}"


def _problem(event: dict[str, Any], call_type: str) -> str | None:
    """Why Segment would drop this call, or None when it is valid."""
    if call_type == "alias":
        if _as_id(event.get("previousId")) is None:
            return "alias needs previousId"
        if _as_id(event.get("userId")) is None:
            return "alias needs userId"
    elif call_type == "delete":
        if _as_id(event.get("userId")) is None:
            return "delete needs userId"
    elif _as_id(event.get("userId")) is None and _as_id(event.get("anonymousId")) is None:
        return "userId or anonymousId is required"
    if call_type == "track":
        name = event.get("event")
        if not isinstance(name, str) or not name.strip():
            return "track needs an event name"
    elif call_type == "group" and _as_id(event.get("groupId")) is None:
        return "group needs groupId"
    for field in ("userId", "anonymousId", "previousId", "groupId"):
        value = _as_id(event.get(field))
        if value is not None and len(value) > _ID_MAX:
            return f"{field} is longer than {_ID_MAX} characters"
    for field in ("traits", "properties", "context", "integrations"):
        value = event.get(field)
        if value is not None and not isinstance(value, dict):
            return f"{field} must be an object"
    return None


def _minus(moment: datetime, delta: timedelta) -> datetime | None:
    """`moment - delta` when the hub can hold the result (hub/timeparse.py), else None."""
    try:
        result = moment - delta
    except OverflowError:
        return None
    return result if EARLIEST <= result <= LATEST else None


class BatchReader:
    """Turns one request body into ParsedEvents; holds what every event of the batch shares."""

    def __init__(self, body: dict[str, Any], *, received_at: datetime, limits: Limits) -> None:
        self.received_at = received_at
        self.limits = limits
        context = body.get("context")
        integrations = body.get("integrations")
        self.batch_context = context if isinstance(context, dict) else None
        self.batch_integrations = integrations if isinstance(integrations, dict) else None
        self.batch_sent_at = parse_datetime(body.get("sentAt"), allow_numbers=False)

    def read(self, raw: object, call_type: str | None) -> ParsedEvent:
        """One event: `call_type` is the endpoint's type, or None inside a batch (the event says)."""
        if not isinstance(raw, dict):
            return self._reject({"event": raw}, UNKNOWN_CALL_TYPE, "the event is not a JSON object")
        event_type = call_type or raw.get("type")
        if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
            return self._reject(raw, UNKNOWN_CALL_TYPE, f"unknown event type {_shown(event_type)}")
        too_deep = f"the event nests more than {MAX_JSON_DEPTH} levels deep"
        try:
            encoded = orjson.dumps(raw)
        except orjson.JSONEncodeError as exc:
            if nested_too_deep(raw):  # deeper than orjson goes (255 levels)
                return self._reject(raw, event_type, too_deep)
            # e.g. an integer beyond 64 bits: valid JSON that cannot be stored faithfully.
            return self._reject(
                {"messageId": _as_id(raw.get("messageId"))}, event_type, f"cannot be stored: {exc}"
            )
        # Checked before anything walks it: every later step may assume a sane depth. Counting the
        # brackets (strings' too) is C-fast and only overestimates; the walk runs for busy events.
        if encoded.count(b"{") + encoded.count(b"[") > MAX_JSON_DEPTH and nested_too_deep(raw):
            return self._reject(raw, event_type, too_deep)
        if len(encoded) > self.limits.max_event_bytes:
            reason = f"the event is {len(encoded)} bytes, more than {self.limits.max_event_bytes}"
            return self._reject(raw, event_type, reason, excerpt=True)
        problem = _problem(raw, event_type)
        if problem is not None:
            return self._reject(raw, event_type, problem)
        return self._accept(raw, event_type)

    def _accept(self, raw: dict[str, Any], event_type: str) -> ParsedEvent:
        event = dict(raw)
        event.pop("writeKey", None)
        event["type"] = event_type
        notes: list[str] = []

        message_id = _as_id(event.get("messageId"))
        if message_id is None or len(message_id) > _MESSAGE_ID_MAX:
            if message_id is not None:
                notes.append(f"messageId longer than {_MESSAGE_ID_MAX} characters was replaced")
            message_id = f"hub-{uuid.uuid4()}"
        event["messageId"] = message_id
        for field in ("userId", "anonymousId", "previousId", "groupId"):
            if field in event:
                event[field] = _as_id(event[field])

        for field, batch_value in (
            ("context", self.batch_context),
            ("integrations", self.batch_integrations),
        ):
            if batch_value:
                own = event.get(field)
                event[field] = {**batch_value, **own} if own else batch_value

        client_time_raw = event.get("originalTimestamp") or event.get("timestamp")
        client_time = parse_datetime(client_time_raw, allow_numbers=False)
        if client_time is None and client_time_raw is not None:
            notes.append(f"timestamp not understood: {str(client_time_raw)[:64]!r}")
        sent_at = parse_datetime(event.get("sentAt"), allow_numbers=False) or self.batch_sent_at
        timestamp = client_time or self.received_at
        if client_time is not None and sent_at is not None:
            # Segment's clock-skew correction. Both ends are in range, so the difference is; the
            # corrected time may not be (sentAt 9999, originalTimestamp 0001): then receivedAt.
            corrected = _minus(self.received_at, sent_at - client_time)
            if corrected is None:
                notes.append(
                    "sentAt and originalTimestamp are too far apart to correct the clock: receivedAt used"
                )
                timestamp = self.received_at
            else:
                timestamp = corrected
        event["receivedAt"] = self.received_at
        event["timestamp"] = timestamp
        if client_time is not None:
            event["originalTimestamp"] = client_time
        if sent_at is not None:
            event["sentAt"] = sent_at

        payload = orjson.dumps(event, option=orjson.OPT_UTC_Z)
        if b"\\u0000" in payload:  # rare, so the walk is the slow path
            event, _ = clean_json(event)
            payload = orjson.dumps(event, option=orjson.OPT_UTC_Z)
            notes.append("U+0000 characters were replaced with U+FFFD")
        name = event.get("event") if event_type == "track" else event.get("name")
        return ParsedEvent(
            message_id=message_id,
            type=event_type,
            user_id=event.get("userId") or "",
            anonymous_id=event.get("anonymousId") or "",
            event=name[:255] if isinstance(name, str) else "",
            timestamp=timestamp,
            original_timestamp=client_time,
            sent_at=sent_at,
            payload=payload.decode(),
            rejected=False,
            reason="; ".join(notes),
        )

    def _reject(
        self, raw: dict[str, Any], event_type: str, reason: str, *, excerpt: bool = False
    ) -> ParsedEvent:
        """A rejected event is still logged, with enough of it to see what was wrong (whatever its
        depth: deeper parts are cut, see hub/cleaning.py)."""
        kept, _ = clean_json({k: v for k, v in raw.items() if k != "writeKey"})
        if excerpt:
            text = orjson.dumps(kept)[:_EXCERPT_BYTES].decode("utf-8", errors="replace")
            kept = {"excerpt": text, "truncated": True}
        message_id = _as_id(raw.get("messageId"))
        if message_id is None or len(message_id) > _MESSAGE_ID_MAX:
            message_id = f"hub-{uuid.uuid4()}"
        payload = orjson.dumps(kept, option=orjson.OPT_UTC_Z | orjson.OPT_NON_STR_KEYS)
        return ParsedEvent(
            message_id=message_id,
            type=event_type,
            user_id=(_as_id(raw.get("userId")) or "")[:_ID_MAX],
            anonymous_id=(_as_id(raw.get("anonymousId")) or "")[:_ID_MAX],
            event="",
            timestamp=None,
            original_timestamp=None,
            sent_at=None,
            payload=payload.decode(),
            rejected=True,
            reason=reason,
        )


def events_read(
    body: dict[str, Any], *, call_type: str | None, received_at: datetime, limits: Limits
) -> list[ParsedEvent]:
    """All events of a request: the body itself for /v1/<type>, or its `batch` list for /v1/batch."""
    if call_type is not None:
        # A single call: its own context and sentAt are all there is to merge.
        return [BatchReader({}, received_at=received_at, limits=limits).read(body, call_type)]
    reader = BatchReader(body, received_at=received_at, limits=limits)
    if nested_too_deep([reader.batch_context, reader.batch_integrations], MAX_JSON_DEPTH - 1):
        # Merged into every event: the envelope's own problem, refused as a whole.
        raise RequestError(
            400, "invalid_batch", f"The batch's context nests more than {MAX_JSON_DEPTH} levels."
        )
    batch = body.get("batch")
    if not isinstance(batch, list):
        raise RequestError(400, "invalid_batch", "The body must have a `batch` list of events.")
    if len(batch) > limits.max_batch_events:
        raise RequestError(
            400,
            "batch_too_large",
            f"A batch holds at most {limits.max_batch_events} events, not {len(batch)}.",
        )
    return [reader.read(item, None) for item in batch]


class SegmentSource:
    """The Segment source kind, in the inbound registry with the others. Its calls arrive on their
    own endpoints (integrations/segment/views.py: /v1/identify ... /v1/batch), authenticated by a
    write key of the `Source` (`write_key_find`, checked by hash), read by `events_read`; no collector
    takes them, so it has no settings or secrets of its own."""

    kind: ClassVar[str] = "segment"
    label: ClassVar[str] = "Segment (HTTP Tracking API)"
    settings_schema: ClassVar[SettingsSchema] = SettingsSchema()
    endpoint: ClassVar[str] = "intake"
