"""Periodic tasks, declared in code and upserted by name after migrate (editable in the admin)."""

from typing import Any

# name -> (task, every N seconds)
PERIODIC_TASKS: dict[str, tuple[str, int]] = {
    "Process events left accepted (sweeper)": ("integrations.sweep_inbound_events", 60),
    "Send due outbound deliveries (retries, safety net)": ("integrations.deliver_due", 60),
    "Send due survey invitations": ("surveys.dispatch_due", 60),
}


def periodic_tasks_upsert(**kwargs: Any) -> None:
    """Create missing periodic tasks; never overwrite what staff changed in the admin."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, (task, seconds) in PERIODIC_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(name=name, task=task, interval=interval)
