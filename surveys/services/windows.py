"""Send windows: the next moment inside "weekdays 9:00-17:00 in the recipient's time zone"."""

import zoneinfo
from datetime import UTC, datetime, time, timedelta

from surveys.models import Survey


def send_window_zone(*, survey: Survey, person_timezone: str) -> zoneinfo.ZoneInfo:
    for name in (person_timezone, survey.send_window_timezone, "UTC"):
        try:
            return zoneinfo.ZoneInfo(name) if name else zoneinfo.ZoneInfo("UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            continue
    return zoneinfo.ZoneInfo("UTC")


def send_window_next(*, survey: Survey, at: datetime, person_timezone: str = "") -> datetime:
    """`at` itself when it is inside the survey's send window, else when the window next opens (UTC).

    Local wall-clock times are resolved in the recipient's zone, so 9:00 stays 9:00 across a DST change.
    """
    if not survey.send_window_enabled or not survey.send_window_days:
        return at
    zone = send_window_zone(survey=survey, person_timezone=person_timezone)
    local = at.astimezone(zone)
    start: time = survey.send_window_start
    end: time = survey.send_window_end
    for offset in range(8):
        day = local.date() + timedelta(days=offset)
        if day.weekday() not in survey.send_window_days:
            continue
        opens = datetime.combine(day, start, tzinfo=zone)
        closes = datetime.combine(day, end, tzinfo=zone)
        if offset == 0 and opens <= local < closes:
            return at
        if local < opens:
            return opens.astimezone(UTC)
    return at  # unreachable with at least one weekday; never drop an invitation


def send_window_describe(*, survey: Survey, person_timezone: str = "") -> str:
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    days = ",".join(names[d] for d in sorted(survey.send_window_days))
    zone = send_window_zone(survey=survey, person_timezone=person_timezone)
    return f"{days} {survey.send_window_start:%H:%M}-{survey.send_window_end:%H:%M} {zone.key}"
