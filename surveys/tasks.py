"""Thin Celery tasks: call a service."""

from celery import shared_task

from surveys.services.dispatch import invitations_dispatch_backlog


@shared_task(name="surveys.dispatch_due")
def dispatch_due() -> int:
    """Every minute (beat): send due invitations, batch after batch, for at most 50 seconds."""
    return sum(len(report.sent) for report in invitations_dispatch_backlog(seconds=50))
