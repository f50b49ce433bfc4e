"""Thin Celery tasks: take ids, call a service."""

from celery import shared_task

from integrations import services
from integrations.delivery_loop import deliveries_deliver_due
from integrations.refused_calls import refused_calls_flush


@shared_task(name="integrations.process_inbound_events")
def process_inbound_events(event_ids: list[int]) -> int:
    """After an intake request's commit: its events, then its source's others that wait."""
    return services.inbound_events_process_waiting(ids=event_ids)


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


@shared_task(name="integrations.refused_calls_flush")
def refused_calls_flush_task() -> int:
    """Every minute (beat): write the counts of intake calls refused for their write key."""
    return refused_calls_flush()
