"""Lenient, total parsing of the timestamps customers send (ISO 8601 in its many spellings, unix times).

Every function here returns an aware UTC datetime or None ("invalid"); none of them raises on bad input.
"Invalid" includes what the hub cannot hold or compute with: a moment outside `EARLIEST`..`LATEST`
(so that showing it in any time zone, or comparing it, never overflows) and a UTC offset of 16 hours
or more (no zone has one, and PostgreSQL refuses it), e.g. `0001-01-01T00:00:00+14:00` or `-17:18`.
"""

import math
import re
from datetime import UTC, datetime, timedelta

# One day inside Python's range on both ends: any local time of these moments is representable.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
# PostgreSQL accepts offsets up to 15:59:59; real zones stay within ±14:00.
_MAX_OFFSET = timedelta(hours=16)

# ISO-like dates the stdlib refuses: non-padded parts ("2015-2-02T0:30:08Z"), more than six fraction
# digits, "+hhmm" offsets. Anchored, bounded: no catastrophic backtracking.
_LOOSE_ISO = re.compile(
    r"^\s*(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:[.,](\d{1,9}))?)?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?\s*$"
)
_NUMERIC = re.compile(r"^\s*-?\d+(?:\.\d+)?\s*$")

# Unix times above this are read as milliseconds (1e11 s is the year 5138; 1e11 ms is 1973).
_MILLIS_THRESHOLD = 100_000_000_000


def _in_range(value: datetime) -> datetime | None:
    """`value` in UTC, or None when its offset or its moment is out of what the hub can hold."""
    offset = value.utcoffset()
    if offset is not None and abs(offset) >= _MAX_OFFSET:
        return None
    if offset is None:
        value = value.replace(tzinfo=UTC)
    elif value.tzinfo is not UTC:
        try:
            value = value.astimezone(UTC)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+14:00 is in the year 0
            return None
    return value if EARLIEST <= value <= LATEST else None


def shifted(moment: datetime, delta: timedelta) -> datetime:
    """`moment + delta`, held within EARLIEST..LATEST instead of overflowing (far dates from outside)."""
    try:
        return min(max(moment + delta, EARLIEST), LATEST)
    except OverflowError:
        return LATEST if delta > timedelta(0) else EARLIEST


def from_unix(number: float) -> datetime | None:
    """Unix seconds or milliseconds (told apart by magnitude) to UTC; None when out of range."""
    if not math.isfinite(number):
        return None
    seconds = number / 1000 if abs(number) >= _MILLIS_THRESHOLD else number
    try:
        return _in_range(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds))
    except OverflowError:
        return None


def _from_loose_iso(text: str) -> datetime | None:
    match = _LOOSE_ISO.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    try:
        micro = int((fraction or "0")[:6].ljust(6, "0"))
        value = datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), micro
        )
    except ValueError:
        return None
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        shift = timedelta(hours=int(digits[:2]), minutes=int(digits[2:4] or 0))
        if int(digits[2:4] or 0) > 59 or shift >= _MAX_OFFSET:
            return None
        try:
            value -= sign * shift
        except OverflowError:
            return None
    return _in_range(value.replace(tzinfo=UTC))


def parse_datetime(value: object, *, allow_numbers: bool = True) -> datetime | None:
    """Parse an ISO 8601 string (Z or offset, 0-9 fraction digits, date-only, non-padded parts) or a
    unix time in seconds or milliseconds (number or numeric string) to an aware UTC datetime.

    >>> parse_datetime("2015-2-02T00:30:08.276Z")
    datetime.datetime(2015, 2, 2, 0, 30, 8, 276000, tzinfo=datetime.timezone.utc)
    """
    if isinstance(value, str):
        if not value or len(value) > 64:
            return None
        try:
            return _in_range(datetime.fromisoformat(value))
        except ValueError:
            pass
        if allow_numbers and _NUMERIC.match(value):
            return from_unix(float(value))
        return _from_loose_iso(value)
    if allow_numbers and isinstance(value, int | float) and not isinstance(value, bool):
        return from_unix(float(value))
    return None
