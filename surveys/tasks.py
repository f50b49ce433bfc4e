"""Thin Celery tasks: call a service."""

from typing import Any

from celery import shared_task

from surveys.services.collectors import CollectorRetry, collector_event_process, collector_events_sweep
from surveys.services.dispatch import invitations_dispatch_backlog


@shared_task(name="surveys.dispatch_due")
def dispatch_due() -> int:
    """Every minute (beat): send due invitations, batch after batch, for at most 50 seconds."""
    return sum(len(report.sent) for report in invitations_dispatch_backlog(seconds=50))


@shared_task(name="surveys.collector_process_event", bind=True, max_retries=6)
def collector_process_event(self: Any, event_id: int) -> str:
    """After an Intercom call is stored: record the contact and decide the invitation."""
    try:
        return collector_event_process(
            event_id=event_id, final_attempt=self.request.retries >= self.max_retries
        ).status
    except CollectorRetry as exc:
        raise self.retry(countdown=exc.countdown) from exc


@shared_task(name="surveys.collector_sweep")
def collector_sweep() -> int:
    """Safety net: decide collector calls whose task was lost (the broker was down). Meant for beat,
    every minute, next to the intake sweeper (an entry in hub/schedule.py)."""
    return collector_events_sweep()
