"""Read-only queries about cases, for the admin (its list, filters and age column)."""

from datetime import datetime, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from actions.models import Case


def cases_overdue(queryset: QuerySet[Any], *, now: datetime | None = None) -> QuerySet[Any]:
    """Cases not closed whose due date has passed."""
    return queryset.filter(due_at__lt=now or timezone.now()).exclude(status=Case.Status.CLOSED)


def case_age(case: Case, *, now: datetime | None = None) -> timedelta:
    """How long the case has been (or was) open: to now, or to its closing."""
    return (case.closed_at or now or timezone.now()) - case.opened_at


def duration_text(duration: timedelta) -> str:
    """ "3 d 4 h", "5 h 12 min", "7 min": the two largest units, for the cases list."""
    minutes = max(0, int(duration.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"
