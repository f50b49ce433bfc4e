"""Thin Celery tasks: take ids, call a service."""

from celery import shared_task

from integrations import services
from integrations.delivery_loop import deliveries_deliver_due


@shared_task(name="integrations.process_inbound_events")
def process_inbound_events(event_ids: list[int]) -> int:
    return services.inbound_events_process(ids=event_ids)


@shared_task(name="integrations.sweep_inbound_events")
def sweep_inbound_events() -> int:
    """Every minute (beat): process accepted events whose enqueue was lost (e.g. broker down)."""
    return services.inbound_events_sweep()


@shared_task(name="integrations.deliver_deliveries")
def deliver_deliveries(delivery_ids: list[int]) -> int:
    """Right after enqueue or replay: attempt these deliveries if they are due."""
    return deliveries_deliver_due(ids=delivery_ids)


@shared_task(name="integrations.deliver_due")
def deliver_due() -> int:
    """Every minute (beat): attempt every due delivery (retries, expired claims, lost enqueues)."""
    return deliveries_deliver_due()


@shared_task(name="integrations.sync_back_all")
def sync_back_all() -> int:
    """Daily (beat, a crontab editable in the admin): one sync-back task per Segment destination."""
    from integrations.segment.sync_back import sync_back_destinations

    ids = list(sync_back_destinations().values_list("pk", flat=True))
    for destination_id in ids:
        sync_back_destination.delay(destination_id)
    return len(ids)


@shared_task(name="integrations.sync_back_destination")
def sync_back_destination(destination_id: int) -> str:
    """Sync the latest NPS answers back to one Segment destination (also the admin's "sync now")."""
    from integrations.models import Destination
    from integrations.segment.sync_back import sync_back_run

    destination = Destination.objects.filter(pk=destination_id).first()
    if destination is None:
        return "the destination no longer exists"
    return sync_back_run(destination=destination).summary()
