"""Thin Celery tasks: take ids, call a service."""

from celery import shared_task

from insights.services import comments, report_subscriptions, themes
from surveys.models import Survey


@shared_task(name="insights.comment_analyse")
def comment_analyse(response_id: int) -> bool:
    """Right after an answer with a comment is saved (enqueued on commit)."""
    return comments.comment_analyse(response_id=response_id)


@shared_task(name="insights.comments_sweep")
def comments_sweep() -> int:
    """Every 10 minutes (beat): analyse comments whose task was lost or that were written in bulk."""
    return comments.comments_sweep(seconds=240)


@shared_task(name="insights.themes_find_all")
def themes_find_all() -> int:
    """Nightly (beat, a crontab editable in the admin): one theme job per survey with recent comments."""
    survey_ids = themes.themes_find_due()
    for survey_id in survey_ids:
        themes_find.delay(survey_id)
    return len(survey_ids)


@shared_task(name="insights.themes_find")
def themes_find(survey_id: int) -> int:
    survey = Survey.objects.filter(pk=survey_id).first()
    return themes.themes_find(survey=survey).themes if survey is not None else 0


@shared_task(name="insights.report_emails_send_due")
def report_emails_send_due() -> int:
    """Every 5 minutes (beat): each subscription's report of the period that ended, once (the ledger)."""
    return len(report_subscriptions.report_emails_send_due().sent)
