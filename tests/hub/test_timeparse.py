"""Lenient, total timestamp parsing: every spelling customers send, and never an exception."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.timeparse import parse_datetime

MOMENT = datetime(2026, 3, 1, 9, 5, 7, 123000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01T09:05:07.123Z", MOMENT),
        ("2026-03-01T09:05:07.123+00:00", MOMENT),
        ("2026-03-01T10:05:07.123+01:00", MOMENT),
        ("2026-03-01T04:05:07.123-0500", MOMENT),
        ("2026-03-01T09:05:07.1230000Z", MOMENT),
        ("2026-03-01T09:05:07.123456789Z", MOMENT.replace(microsecond=123456)),
        ("2026-03-01T09:05:07Z", MOMENT.replace(microsecond=0)),
        ("2026-3-1T9:05:07.123Z", MOMENT),
        ("2026-03-01 09:05:07.123", MOMENT),
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("1772355907.123", MOMENT),
        ("1772355907123", MOMENT),
        (1772355907.123, MOMENT),
        (1772355907123, MOMENT),
    ],
)
def test_every_spelling_of_a_moment_parses_to_utc(text: object, expected: datetime) -> None:
    parsed = parse_datetime(text)
    assert parsed is not None
    assert abs(parsed - expected) < timedelta(milliseconds=1)
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "yesterday",
        "2026-13-01",
        "2026-02-30T00:00:00Z",
        "2026-03-01T25:00:00Z",
        None,
        True,
        [],
        {},
        "9" * 400,
        float("nan"),
        1e300,
    ],
)
def test_garbage_is_none_not_an_exception(garbage: object) -> None:
    assert parse_datetime(garbage) is None


def test_numbers_can_be_refused_where_only_iso_makes_sense() -> None:
    assert parse_datetime(1772355907, allow_numbers=False) is None
    assert parse_datetime("1772355907", allow_numbers=False) is None


fixed_offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda m: timezone(timedelta(minutes=m))
)


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1), timezones=fixed_offsets))
def test_isoformat_round_trips(moment: datetime) -> None:
    # Fixed offsets only: a zone's local time inside a DST gap has no single meaning to round-trip.
    assert parse_datetime(moment.isoformat()) == moment
    assert parse_datetime(moment.isoformat().replace("+00:00", "Z")) == moment


@given(st.one_of(st.text(max_size=80), st.integers(), st.floats(), st.none(), st.booleans()))
def test_parse_datetime_is_total(value: object) -> None:
    result = parse_datetime(value)
    assert result is None or result.tzinfo == UTC
