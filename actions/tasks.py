"""Thin Celery tasks: call a service (the beat runs them; hub/schedule.py)."""

from celery import shared_task

from actions.models import AlertRule
from actions.services.alerts import alerts_digest_send
from actions.services.autoreplies import auto_replies_send_due as _auto_replies_send_due


@shared_task(name="actions.auto_replies_send_due")
def auto_replies_send_due() -> int:
    """Every minute (beat): auto-replies whose time has come."""
    return len(_auto_replies_send_due().sent)


@shared_task(name="actions.alerts_digest_daily")
def alerts_digest_daily() -> int:
    return alerts_digest_send(timing=AlertRule.Timing.DAILY)


@shared_task(name="actions.alerts_digest_weekly")
def alerts_digest_weekly() -> int:
    return alerts_digest_send(timing=AlertRule.Timing.WEEKLY)
