"""A report's settings from query parameters, for the admin's report pages, the API and the exports:
one total parser, so every caller refuses the same things with the same words.

    ?since=2026-03-01&until=2026-03-31     the period (dates: `until` includes that day); or ?days=90
    &tz=Europe/Berlin                      dates are that zone's days, and so are the trend's days,
                                           weeks and months (default UTC; times with an offset stay
                                           as given)
    &count=people|answers                  each person's latest answer (default) or every answer
    &trend=day|week|month                  the trend's buckets (by the period's length when absent)
    &rolling=30|90                         a rolling-window trend too
    &by=source,trait:plan                  breakdowns (default: source, language, channel)
    &trait:plan=pro&language=en ...        filters: any dimension (insights/dimensions.py) = value
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

from django.utils import timezone

from hub.cleaning import clean_text, parse_id, text_unstorable
from hub.timeparse import parse_datetime
from insights.dimensions import ReportQueryInvalid, dimension_parse, filters_parse
from insights.exports import FORMATS, Format
from insights.periods import PeriodError, local_midnight, zone_check
from insights.selectors import Window
from insights.services.reports import (
    DEFAULT_BREAKDOWNS,
    GRANULARITIES,
    ROLLING_WINDOWS,
    Counting,
    Granularity,
)

DEFAULT_DAYS = 90
MAX_DAYS = 3660  # ten years: the period before it must still be a date
MAX_DAY_POINTS = 366
MAX_BREAKDOWNS = 8
MAX_TRAITS = 30
EARLIEST = datetime(1000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ReportQuery:
    period: Window
    count: Counting = "people"
    granularity: Granularity | None = None
    rolling_days: int | None = None
    breakdowns: tuple[str, ...] = DEFAULT_BREAKDOWNS
    filters: dict[str, str] = field(default_factory=dict)
    tz: tzinfo = UTC

    def build_arguments(self) -> dict[str, Any]:
        """Keyword arguments of `report_build` (besides the survey)."""
        return {
            "period": self.period,
            "count": self.count,
            "granularity": self.granularity,
            "rolling_days": self.rolling_days,
            "breakdowns": self.breakdowns,
            "filters": self.filters,
            "tz": self.tz,
        }


def _zone(query: Mapping[str, Any]) -> str:
    value = query.get("tz")
    if value in (None, ""):
        return "UTC"
    if not isinstance(value, str) or len(value) > 64 or text_unstorable(value):
        raise ReportQueryInvalid("'tz' is a time zone name such as Europe/Berlin.")
    try:
        return zone_check(value)
    except PeriodError as error:
        raise ReportQueryInvalid(f"'tz': {error}.") from error


def _moment(query: Mapping[str, Any], name: str, *, zone: str, end_of_day: bool = False) -> datetime | None:
    text = query.get(name)
    if text in (None, ""):
        return None
    if not isinstance(text, str):
        raise ReportQueryInvalid(f"'{name}' is a date or a time (ISO 8601), e.g. 2026-03-01.")
    moment = parse_datetime(text, allow_numbers=False)
    if moment is None or moment < EARLIEST:
        raise ReportQueryInvalid(f"'{name}' is a date or a time (ISO 8601), e.g. 2026-03-01.")
    if len(text) <= 10:  # a date: that day of the time zone (`until`: up to the end of it)
        try:
            moment = local_midnight(moment.date() + timedelta(days=1 if end_of_day else 0), zone)
        except OverflowError as error:
            raise ReportQueryInvalid(f"'{name}' is too far in the future.") from error
    return moment


def _choice(query: Mapping[str, Any], name: str, choices: tuple[str, ...]) -> str | None:
    value = query.get(name)
    if value in (None, ""):
        return None
    if value not in choices:
        raise ReportQueryInvalid(f"'{name}' is one of {', '.join(choices)}.")
    return str(value)


def report_query_parse(query: Mapping[str, Any], *, now: datetime | None = None) -> ReportQuery:
    """The report asked for by `query` (a QueryDict or a dict of strings); ReportQueryInvalid says what
    is wrong with it."""
    now = now or timezone.now()
    zone = _zone(query)
    until = _moment(query, "until", zone=zone, end_of_day=True) or now
    since = _moment(query, "since", zone=zone)
    if since is None:
        days = parse_id(query.get("days") or str(DEFAULT_DAYS))
        if days is None or not 1 <= days <= MAX_DAYS:
            raise ReportQueryInvalid(f"'days' is a whole number from 1 to {MAX_DAYS}.")
        since = until - timedelta(days=days)
    if since >= until:
        raise ReportQueryInvalid("'since' must be before 'until'.")
    if until - since > timedelta(days=MAX_DAYS):
        raise ReportQueryInvalid(f"A report covers at most {MAX_DAYS} days.")
    granularity = _choice(query, "trend", GRANULARITIES)
    if granularity == "day" and until - since > timedelta(days=MAX_DAY_POINTS):
        raise ReportQueryInvalid(f"A daily trend covers at most {MAX_DAY_POINTS} days; use weeks or months.")
    rolling = _choice(query, "rolling", tuple(str(days) for days in ROLLING_WINDOWS))
    by = query.get("by")
    breakdowns: tuple[str, ...]
    if by in (None, ""):
        breakdowns = DEFAULT_BREAKDOWNS
    elif not isinstance(by, str):
        raise ReportQueryInvalid("'by' names dimensions separated by commas.")
    else:
        breakdowns = tuple(dict.fromkeys(name.strip() for name in by.split(",") if name.strip()))
        if len(breakdowns) > MAX_BREAKDOWNS:
            raise ReportQueryInvalid(f"At most {MAX_BREAKDOWNS} breakdowns at a time.")
    breakdowns = tuple(dimension_parse(name).name for name in breakdowns)
    return ReportQuery(
        period=Window(start=since, end=until),
        count=_choice(query, "count", ("people", "answers")) or "people",  # type: ignore[arg-type]
        granularity=granularity,  # type: ignore[arg-type]
        rolling_days=int(rolling) if rolling else None,
        breakdowns=breakdowns,
        filters=filters_parse(_single_values(query)),
        tz=ZoneInfo(zone),
    )


def traits_parse(query: Mapping[str, Any]) -> list[str]:
    """`?traits=plan,country`: the traits an export of answers adds as columns."""
    text = query.get("traits") or ""
    if not isinstance(text, str) or len(text) > 2000 or text_unstorable(text):
        raise ReportQueryInvalid("'traits' names traits separated by commas.")
    traits = list(dict.fromkeys(clean_text(name.strip()) for name in text.split(",") if name.strip()))
    if len(traits) > MAX_TRAITS or any(len(name) > 200 for name in traits):
        raise ReportQueryInvalid(f"At most {MAX_TRAITS} traits, each a short name.")
    return traits


def export_format_parse(query: Mapping[str, Any]) -> Format:
    """`?export=`: one of the exports' FORMATS, csv when absent."""
    value = query.get("export") or "csv"
    if value not in FORMATS:
        raise ReportQueryInvalid(f"'export' is {' or '.join(FORMATS)}.")
    return cast(Format, value)


def _single_values(query: Mapping[str, Any]) -> dict[str, Any]:
    """A QueryDict's last value per name (what `query[name]` gives), a dict as it is."""
    return {name: query.get(name) for name in query}
