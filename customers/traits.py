"""Pure trait rules: normalise reserved names, merge by event time, derive the typed columns."""

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from hub.cleaning import clean_text
from hub.timeparse import parse_datetime

# Segment's reserved traits arrive camelCase or snake_case; we keep them camelCase (the spec's form).
_RESERVED_SNAKE = {
    "first_name": "firstName",
    "last_name": "lastName",
    "created_at": "createdAt",
    "updated_at": "updatedAt",
    "postal_code": "postalCode",
    "employee_count": "employeeCount",
}


# Traits a person is addressed or told apart by: one line, wherever they end up (a name in a From or
# To header, a language, a vendor's field). Other text keeps its line breaks (a description).
_SINGLE_LINE = frozenset(
    {
        "name",
        "firstName",
        "lastName",
        "email",
        "username",
        "title",
        "phone",
        "gender",
        "language",
        "timezone",
        "website",
        "avatar",
        "id",
        "city",
        "country",
        "postalCode",
        "state",
    }
)


def traits_normalise(traits: dict[str, Any]) -> dict[str, Any]:
    """Reserved snake_case keys to camelCase (also inside `address`); the camelCase value wins a tie.

    Text values are cleaned where they enter (hub/cleaning.py): no U+0000 or control characters, and
    no line break in the traits that name or address a person, so none can start a mail header.
    """
    return _normalise(traits, with_address=True)


def _normalise(traits: dict[str, Any], *, with_address: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in traits.items():
        canonical = _RESERVED_SNAKE.get(key, key)
        if canonical != key and canonical in traits:
            continue
        if isinstance(value, str):
            value = clean_text(value, multiline=canonical not in _SINGLE_LINE)
        elif with_address and canonical == "address" and isinstance(value, dict):
            value = _normalise(value, with_address=False)  # Segment's address is flat: one level
        out[canonical] = value
    return out


def time_key(at: datetime) -> str:
    """Fixed-width UTC text of a moment, so comparing two keys as strings compares the moments:
    "2026-03-02T09:00:00.000000Z" (isoformat pads the year to 4 digits; a third of strftime's time)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def traits_combine(
    traits: dict[str, Any], times: dict[str, str], other: dict[str, Any], other_times: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Two records' traits as one (alias merge): per trait, the value set by the later call."""
    merged, merged_times = dict(traits), dict(times)
    for key, stamp in other_times.items():
        if stamp >= merged_times.get(key, ""):
            merged_times[key] = stamp
            if key in other:
                merged[key] = other[key]
            else:
                merged.pop(key, None)
    for key, value in other.items():
        if key not in other_times and key not in merged:
            merged[key] = value
    return merged, merged_times


def traits_merge(
    traits: dict[str, Any], times: dict[str, str], incoming: dict[str, Any], at: datetime
) -> tuple[dict[str, Any], dict[str, str], bool]:
    """Merge `incoming` (sent at `at`) into `traits`: the later call wins per trait, `null` clears.

    `times` holds, per trait, the ISO time of the call that last set it; a call older than that
    leaves the trait alone, so out-of-order delivery never overwrites a newer value. Returns the new
    traits, the new times and whether anything changed. Inputs are not modified.
    """
    stamp = time_key(at)
    new_traits, new_times, changed = traits, times, False
    for key, value in incoming.items():
        if times.get(key, "") > stamp:
            continue
        if not changed:
            new_traits, new_times, changed = dict(traits), dict(times), True
        new_times[key] = stamp
        if value is None:
            new_traits.pop(key, None)
        else:
            new_traits[key] = value
    return new_traits, new_times, changed


def _text(value: Any, limit: int) -> str:
    """One line of text for a column (traits stored before they were cleaned, a call's locale)."""
    if value is None or isinstance(value, dict | list):
        return ""
    return clean_text(str(value)).strip()[:limit]


@dataclass
class PersonFields:
    """The typed columns of a person, derived from traits and the latest call's context."""

    email: str = ""
    first_name: str = ""
    last_name: str = ""
    name: str = ""
    gender: str = ""
    language: str = ""
    created_at: datetime | None = None
    notes: list[str] = field(default_factory=list)


def person_fields(traits: dict[str, Any], locale: str = "", *, valid_email: str = "") -> PersonFields:
    """Typed columns from merged traits. Bad values stay in traits and are reported in `notes`.

    valid_email: the record's email column, validated when it was stored; the same address (most
    calls resend it) is not validated again (Django's validator: a tenth of applying a call)."""
    result = PersonFields()
    email = _text(traits.get("email"), 254)
    if email:
        lowered = email.lower()
        if valid_email and lowered == valid_email:
            result.email = lowered
        else:
            try:
                validate_email(email)
                result.email = lowered
            except ValidationError:
                result.notes.append(f"email not valid: {email[:80]!r}")
    result.first_name = _text(traits.get("firstName"), 200)
    result.last_name = _text(traits.get("lastName"), 200)
    name = _text(traits.get("name"), 400)
    if name and not (result.first_name or result.last_name):
        first, _, last = name.partition(" ")
        result.first_name, result.last_name = first[:200], last.strip()[:200]
    result.name = name or " ".join(p for p in (result.first_name, result.last_name) if p)
    result.gender = _text(traits.get("gender"), 50)
    result.language = (_text(traits.get("language"), 35) or _text(locale, 35)).replace("_", "-")
    raw_created = traits.get("createdAt")
    if raw_created is not None:
        result.created_at = parse_datetime(raw_created)
        if result.created_at is None:
            result.notes.append(f"createdAt not understood: {str(raw_created)[:64]!r}")
    return result


def valid_timezone(name: Any) -> str:
    """An IANA zone name we can convert with, or ''."""
    if not isinstance(name, str) or not name or len(name) > 64:
        return ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return ""
    return name


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) and 0 <= value < 2**31:
        return int(value)
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 10:
        return int(value)
    return None
