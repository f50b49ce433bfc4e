"""Lenient, total timestamp parsing: every spelling customers send, and never an exception."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.timeparse import EARLIEST, LATEST, parse_datetime, shifted

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


@pytest.mark.parametrize(
    "beyond",
    [
        "0001-01-01T00:00:00+14:00",  # the year 0 in UTC
        "9999-12-31T23:59:59-14:00",  # the year 10000 in UTC
        "1-01-01T00:00:00+0100",
        "0001-01-01T00:00:00Z",  # representable, but no local time of it is
        "9999-12-31T12:00:00Z",
        "2020-01-01T00:00:00-17:18",  # no zone has it; PostgreSQL refuses it
        "2020-01-01T00:00:00+16:00",
        "2020-01-01T00:00:00+2330",
        -62135596800,  # 0001-01-01 as a unix time
        253402300799999,  # 9999-12-31T23:59:59.999 in milliseconds
    ],
)
def test_what_the_hub_cannot_hold_is_invalid_not_an_overflow(beyond: object) -> None:
    assert parse_datetime(beyond) is None


def test_the_edges_of_what_is_held_parse() -> None:
    assert parse_datetime("0001-01-02T00:00:00Z") == EARLIEST
    assert parse_datetime("9999-12-30T23:59:59.999999Z") == LATEST
    assert parse_datetime("2020-01-01T00:00:00-15:59") == datetime(2020, 1, 1, 15, 59, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59),
)
def test_any_date_with_any_offset_is_a_moment_in_range_or_none(moment: datetime, minutes: int) -> None:
    sign = "-" if minutes < 0 else "+"
    text = f"{moment.isoformat()}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
    for spelling in (text, text.replace("T", " ")[:-3] + text[-2:]):  # also "+hhmm", the loose path
        result = parse_datetime(spelling)
        assert result is None or (result.tzinfo == UTC and EARLIEST <= result <= LATEST)


def test_shifting_far_dates_stays_in_range() -> None:
    assert shifted(LATEST, timedelta(days=10)) == LATEST
    assert shifted(EARLIEST, -timedelta(days=10**6)) == EARLIEST
    assert shifted(MOMENT, timedelta(days=1)) == MOMENT + timedelta(days=1)
