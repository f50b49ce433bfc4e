"""Thin Celery tasks: take ids, call a service."""

from celery import shared_task

from integrations import services


@shared_task(name="integrations.process_inbound_events")
def process_inbound_events(event_ids: list[int]) -> int:
    return services.inbound_events_process(ids=event_ids)


@shared_task(name="integrations.sweep_inbound_events")
def sweep_inbound_events() -> int:
    """Every minute (beat): process accepted events whose enqueue was lost (e.g. broker down)."""
    return services.inbound_events_sweep()
