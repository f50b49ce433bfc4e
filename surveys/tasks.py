"""Thin Celery tasks: call a service."""

from typing import Any

from celery import shared_task

from surveys.services.collector_outcome import CollectorRetry
from surveys.services.collectors import collector_event_process, collector_events_sweep
from surveys.services.dispatch import invitations_dispatch_backlog
from surveys.services.sync_back import sync_back_destinations, sync_back_run


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


# The sync-back's tasks keep the names they had under integrations/: the beat's rows in existing
# databases (and any task in flight) call them by name.
@shared_task(name="integrations.sync_back_all")
def sync_back_all() -> int:
    """Daily (beat, a crontab editable in the admin): one sync-back task per Segment destination."""
    ids = list(sync_back_destinations().values_list("pk", flat=True))
    for destination_id in ids:
        sync_back_destination.delay(destination_id)
    return len(ids)


@shared_task(name="integrations.sync_back_destination")
def sync_back_destination(destination_id: int) -> str:
    """Sync the latest NPS answers back to one Segment destination (also the admin's "sync now")."""
    from integrations.models import Destination

    destination = Destination.objects.filter(pk=destination_id).first()
    if destination is None:
        return "the destination no longer exists"
    return sync_back_run(destination=destination).summary()
