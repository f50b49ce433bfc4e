"""The project's beat schedule: every app's periodic tasks, declared in code and upserted by name after
migrate (hub/apps.py), editable in the admin afterwards (django-celery-beat)."""

from typing import Any

# name -> (task, every N seconds)
PERIODIC_TASKS: dict[str, tuple[str, int]] = {
    "Process events left accepted (sweeper)": ("integrations.sweep_inbound_events", 60),
    "Send due outbound deliveries (retries, safety net)": ("integrations.deliver_due", 60),
    "Write the counts of calls refused for their write key": ("integrations.refused_calls_flush", 60),
    "Send due survey invitations": ("surveys.dispatch_due", 60),
    "Process collector webhooks left waiting (sweeper)": ("surveys.collector_sweep", 60),
    "Analyse comments left unanalysed (sweeper)": ("insights.comments_sweep", 600),
    "Send testimonial consent emails left unsent (sweeper)": ("testimonials.receipts_sweep", 300),
    "Send due auto-replies to answers": ("actions.auto_replies_send_due", 60),
    # Time zones differ per subscriber, so an interval: each run sends the reports whose time has come.
    "Send due report emails": ("insights.report_emails_send_due", 300),
}

# name -> (task, crontab fields in UTC: minute, hour, day_of_week, day_of_month, month_of_year; "*" if
# left out). Staff move the time in the admin (Periodic tasks -> the task -> Crontab schedule).
CRONTAB_TASKS: dict[str, tuple[str, dict[str, str]]] = {
    "Sync NPS answers back to Segment (daily)": ("integrations.sync_back_all", {"minute": "0", "hour": "3"}),
    "Find comment themes per survey (nightly)": ("insights.themes_find_all", {"minute": "30", "hour": "2"}),
    "Alert digests (daily)": ("actions.alerts_digest_daily", {"minute": "0", "hour": "7"}),
    "Alert digests (weekly, Mondays)": (
        "actions.alerts_digest_weekly",
        {"minute": "0", "hour": "7", "day_of_week": "1"},
    ),
}
CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")


def periodic_tasks_upsert(**kwargs: Any) -> None:
    """Create missing periodic tasks; never overwrite what staff changed in the admin."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    for name, (task, seconds) in PERIODIC_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        interval, _ = IntervalSchedule.objects.get_or_create(every=seconds, period=IntervalSchedule.SECONDS)
        PeriodicTask.objects.create(name=name, task=task, interval=interval)
    for name, (task, fields) in CRONTAB_TASKS.items():
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        when = {key: fields.get(key, "*") for key in CRONTAB_FIELDS}
        crontab = CrontabSchedule.objects.filter(timezone="UTC", **when).first()
        if crontab is None:
            crontab = CrontabSchedule.objects.create(timezone="UTC", **when)
        PeriodicTask.objects.create(name=name, task=task, crontab=crontab)
