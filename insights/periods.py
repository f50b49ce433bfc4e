"""Logical report periods: an ISO week ("2026-W48") or a calendar month ("2026-11") in a time zone.

Pure. A period starts at local midnight of its first day and ends at local midnight of the first day
of the next one, each turned into UTC on its own: a week across a DST change is 167 or 169 hours
long, and an answer given at 00:30 local time on the Monday after the change belongs to the new week,
whatever the offset was when the week began. The key names the period without its time zone, so a
report keyed "2026-W48" is the same logical week for a subscriber in Berlin and one in New York.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from typing import Literal
from zoneinfo import ZoneInfo, available_timezones

_WEEK = re.compile(r"(?P<year>[0-9]{4})-W(?P<week>[0-9]{2})")
_MONTH = re.compile(r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})")


class Frequency(StrEnum):
    WEEKLY = "weekly"
    MONTHLY = "monthly"


class PeriodError(ValueError):
    """A period key or time zone that names nothing; the message says what was expected."""


@dataclass(frozen=True)
class ReportPeriod:
    """One logical period in one time zone, e.g. week 2026-W48 in Europe/Berlin: [start, end) in UTC."""

    frequency: Frequency
    first_day: date  # local
    zone: str

    @property
    def key(self) -> str:
        if self.frequency is Frequency.WEEKLY:
            year, week, _ = self.first_day.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first_day.year}-{self.first_day.month:02d}"

    @property
    def next_first_day(self) -> date:
        if self.frequency is Frequency.WEEKLY:
            return self.first_day + timedelta(days=7)
        year, month = divmod(self.first_day.year * 12 + self.first_day.month, 12)
        return date(year, month + 1, 1)

    @property
    def unit(self) -> Literal["week", "month"]:
        return "week" if self.frequency is Frequency.WEEKLY else "month"

    @property
    def tzinfo(self) -> ZoneInfo:
        return ZoneInfo(self.zone)

    @property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.zone)

    @property
    def end(self) -> datetime:
        return local_midnight(self.next_first_day, self.zone)

    def previous(self) -> "ReportPeriod":
        if self.frequency is Frequency.WEEKLY:
            return ReportPeriod(self.frequency, self.first_day - timedelta(days=7), self.zone)
        before = self.first_day - timedelta(days=1)
        return ReportPeriod(self.frequency, before.replace(day=1), self.zone)

    @property
    def label(self) -> str:
        """For people: "week 48 of 2026 (23-29 Nov)", "week 49 of 2026 (30 Nov-6 Dec)" (with an en dash),
        "November 2026"."""
        if self.frequency is Frequency.WEEKLY:
            last = self.next_first_day - timedelta(days=1)
            year, week, _ = self.first_day.isocalendar()
            first = (
                f"{self.first_day:%-d}" if last.month == self.first_day.month else f"{self.first_day:%-d %b}"
            )
            return f"week {week} of {year} ({first}\N{EN DASH}{last:%-d %b})"
        return f"{self.first_day:%B %Y}"


def zone_check(zone: str) -> str:
    """`zone` if it is an IANA time zone name the hub knows ("Europe/Berlin"), else PeriodError."""
    if zone not in zone_names():
        raise PeriodError(f"unknown time zone {zone[:60]!r}: use an IANA name such as Europe/Berlin")
    return zone


@cache
def zone_names() -> frozenset[str]:
    """The zones zoneinfo can load (it lists only files that hold a zone), read once."""
    return frozenset(available_timezones())


def local_midnight(day: date, zone: str) -> datetime:
    """00:00 of `day` in `zone`, in UTC. Where the clock skips midnight that day (America/Santiago
    springs forward from 00:00 to 01:00) this is the change itself, the day's first moment: zoneinfo
    reads a skipped time with the offset from before the change (PEP 495, fold=0)."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone)).astimezone(UTC)


def period_containing(moment: datetime, *, frequency: Frequency, zone: str) -> ReportPeriod:
    """The period `moment` (aware) falls in, by the local calendar of `zone`."""
    local_day = moment.astimezone(ZoneInfo(zone)).date()
    if frequency is Frequency.WEEKLY:
        first = local_day - timedelta(days=local_day.weekday())
    else:
        first = local_day.replace(day=1)
    return ReportPeriod(frequency, first, zone)


def _year(digits: str, text: str) -> int:
    if not 1970 <= int(digits) <= 9998:
        raise PeriodError(f"{text[:20]!r}: the year must be between 1970 and 9998")
    return int(digits)


def period_parse(key: str, *, zone: str = "UTC") -> ReportPeriod:
    """A key, "2026-W48" (ISO week) or "2026-11" (month), in `zone`; PeriodError says what is wrong."""
    text = key.strip()
    if match := _WEEK.fullmatch(text):
        year, week = _year(match["year"], text), int(match["week"])
        try:
            first = date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise PeriodError(f"{text[:20]!r}: {year} has no ISO week {week}") from exc
        frequency = Frequency.WEEKLY
    elif match := _MONTH.fullmatch(text):
        year, month = _year(match["year"], text), int(match["month"])
        if not 1 <= month <= 12:
            raise PeriodError(f"{text[:20]!r}: there is no month {month}")
        first = date(year, month, 1)
        frequency = Frequency.MONTHLY
    else:
        raise PeriodError(f"{text[:20]!r} is not a period: give a week as 2026-W48 or a month as 2026-11")
    return ReportPeriod(frequency, first, zone_check(zone))


def send_after(period: ReportPeriod, *, hour: int) -> datetime:
    """When the report of `period` may go: `hour` o'clock local time on the day after it ended."""
    local = datetime.combine(period.next_first_day, time(hour), tzinfo=ZoneInfo(period.zone))
    return max(period.end, local.astimezone(UTC))


def period_due(
    now: datetime, *, frequency: Frequency, zone: str, hour: int, since: datetime
) -> ReportPeriod | None:
    """The period whose report is due at `now`: the latest one ended whose send time has come; None
    if that one ended before `since` (a subscription's first report is of the period it began in)."""
    period = period_containing(now, frequency=frequency, zone=zone).previous()
    if now < send_after(period, hour=hour):
        period = period.previous()
    return period if period.end > since else None
