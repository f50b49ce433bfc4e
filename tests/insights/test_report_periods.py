"""Logical report periods: ISO weeks and calendar months by the local calendar of a time zone."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from insights.periods import (
    Frequency,
    PeriodError,
    ReportPeriod,
    local_midnight,
    period_containing,
    period_due,
    period_parse,
)


def test_keys_name_iso_weeks_and_months_including_the_week_that_belongs_to_the_next_year() -> None:
    assert period_parse("2026-W48").first_day == date(2026, 11, 23)
    assert period_parse("2026-11").first_day == date(2026, 11, 1)
    # 31 December 2026 is a Thursday: its week is 2026-W53; 1 January 2027 is in it too.
    moment = datetime(2027, 1, 1, 12, tzinfo=UTC)
    assert period_containing(moment, frequency=Frequency.WEEKLY, zone="UTC").key == "2026-W53"
    assert period_containing(moment, frequency=Frequency.MONTHLY, zone="UTC").key == "2027-01"
    assert period_parse("2027-01").previous().key == "2026-12"
    assert period_parse("2027-W01").previous().key == "2026-W53"


@pytest.mark.parametrize(
    ("key", "zone", "hours"),
    [
        ("2026-W13", "Europe/Berlin", 167),  # spring forward on 29 March
        ("2026-W43", "Europe/Berlin", 169),  # fall back on 25 October
        ("2026-W11", "Europe/Berlin", 168),
        ("2026-W10", "America/New_York", 167),  # spring forward on 8 March
        ("2026-W44", "America/New_York", 169),  # fall back on Sunday 1 November
        ("2026-03", "Europe/Berlin", 31 * 24 - 1),
        (
            "2026-10",
            "America/New_York",
            31 * 24,
        ),  # it falls back on the 1st of the next month, after midnight
        ("2026-11", "America/New_York", 30 * 24 + 1),
    ],
)
def test_a_period_across_a_dst_change_is_an_hour_shorter_or_longer(key: str, zone: str, hours: int) -> None:
    period = period_parse(key, zone=zone)

    assert period.end - period.start == timedelta(hours=hours)
    assert period.start.astimezone(period.tzinfo).time().isoformat() == "00:00:00"
    assert period.end.astimezone(period.tzinfo).time().isoformat() == "00:00:00"


def test_where_the_clock_skips_midnight_the_day_starts_at_the_change() -> None:
    # America/Santiago springs forward from 00:00 to 01:00 on 6 September 2026.
    start = local_midnight(date(2026, 9, 6), "America/Santiago")

    assert start == datetime(2026, 9, 6, 4, tzinfo=UTC)  # 01:00 -03, the first moment of the day
    santiago = period_parse("2026-09", zone="America/Santiago").tzinfo
    assert (start - timedelta(seconds=1)).astimezone(santiago).date() == date(2026, 9, 5)


def test_the_report_is_due_from_the_send_hour_after_the_period_and_not_before_the_subscription() -> None:
    since = datetime(2026, 11, 1, tzinfo=UTC)

    def due(moment: datetime, since: datetime = since) -> str | None:
        period = period_due(moment, frequency=Frequency.WEEKLY, zone="Asia/Tokyo", hour=7, since=since)
        return period.key if period else None

    # Monday 30 November, 07:00 in Tokyo is 29 November 22:00 UTC.
    assert due(datetime(2026, 11, 29, 21, 59, tzinfo=UTC)) == "2026-W47"
    assert due(datetime(2026, 11, 29, 22, 0, tzinfo=UTC)) == "2026-W48"
    assert (
        due(datetime(2026, 11, 29, 22, 0, tzinfo=UTC), since=datetime(2026, 11, 29, 15, tzinfo=UTC)) is None
    )


@pytest.mark.parametrize(
    ("key", "zone", "message"),
    [
        ("2026-W00", "UTC", "2026 has no ISO week 0"),
        ("2025-W53", "UTC", "2025 has no ISO week 53"),
        ("2026-00", "UTC", "there is no month 0"),
        ("2026-w48", "UTC", "is not a period"),
        ("\N{FULLWIDTH DIGIT TWO}026-11", "UTC", "is not a period"),  # digits, but not ASCII
        ("2026-11\x00", "UTC", "is not a period"),
        ("99999-01", "UTC", "is not a period"),
        ("2026-11", "Europe/Atlantis", "unknown time zone 'Europe/Atlantis'"),
        ("2026-11", "../../etc/passwd", "unknown time zone"),
        ("2026-11", "", "unknown time zone"),
    ],
)
def test_what_names_no_period_is_refused_with_the_reason(key: str, zone: str, message: str) -> None:
    with pytest.raises(PeriodError, match=message.replace("(", r"\(")):
        period_parse(key, zone=zone)


@given(
    moment=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(9990, 1, 1), timezones=st.just(UTC)
    ),
    frequency=st.sampled_from(list(Frequency)),
    zone=st.sampled_from(
        ["UTC", "Europe/Berlin", "America/New_York", "America/Santiago", "Australia/Lord_Howe"]
    ),
)
def test_every_moment_falls_in_exactly_one_period_and_periods_follow_each_other(
    moment: datetime, frequency: Frequency, zone: str
) -> None:
    period = period_containing(moment, frequency=frequency, zone=zone)

    assert period.start <= moment < period.end
    assert period.previous().end == period.start
    assert period_containing(period.end, frequency=frequency, zone=zone).start == period.end  # the next one
    assert period_parse(period.key, zone=zone) == period
    assert isinstance(period, ReportPeriod)
