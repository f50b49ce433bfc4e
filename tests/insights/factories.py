"""A report email's ledger row in one line, its period's bounds derived as the hub derives them."""

from typing import Any

from insights.models import ReportSending, ReportSubscription
from insights.periods import period_parse


def report_sending_make(subscription: ReportSubscription, period: str, **fields: Any) -> ReportSending:
    """The ledger row of `subscription` for `period` ("2026-W48", "2026-11"), with period_start and
    period_end of that period in the subscription's time zone (insights/periods.py)."""
    bounds = period_parse(period, zone=subscription.time_zone)
    return ReportSending.objects.create(
        subscription=subscription, period=period, period_start=bounds.start, period_end=bounds.end, **fields
    )
