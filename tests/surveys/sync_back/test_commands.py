"""The ways a sync starts: the daily beat task (a crontab), the admin's "sync now", manage.py sync_back."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from pytest_httpserver import HTTPServer

from hub.schedule import PERIODIC_TASKS, periodic_tasks_upsert
from integrations.models import Destination, Source
from surveys.tasks import sync_back_all
from tests.surveys.sync_back.conftest import answers_make, segment_ok, sent_events

DAILY = "Sync NPS answers back to Segment (daily)"


def test_the_daily_task_is_a_crontab_at_3_utc_and_staff_changes_are_kept(db: None) -> None:
    task = PeriodicTask.objects.get(name=DAILY)  # upserted after the test database's migrate
    assert task.task == "integrations.sync_back_all"
    assert task.crontab is not None
    assert task.interval is None
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("0", "3", "UTC")
    every_minute = PeriodicTask.objects.get(name="Send due outbound deliveries (retries, safety net)")
    assert every_minute.interval is not None
    assert every_minute.interval.every == 60
    assert ("integrations.deliver_due", 60) in PERIODIC_TASKS.values()

    task.crontab = CrontabSchedule.objects.create(minute="30", hour="5", timezone="Europe/Brussels")
    task.save()
    periodic_tasks_upsert()

    assert PeriodicTask.objects.get(name=DAILY).crontab.hour == "5"
    assert PeriodicTask.objects.filter(name=DAILY).count() == 1


def test_the_daily_task_syncs_every_enabled_segment_destination(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    Destination.objects.create(source=source, kind="segment", name="Off", enabled=False)
    answers_make(source, 2)

    assert sync_back_all() == 1  # the per-destination tasks run inline (eager in tests)

    assert [e["userId"] for e in sent_events(httpserver)] == ["user-0", "user-1"]


def test_sync_now_in_the_admin_sends_the_selected_destinations(
    admin_client: Client, destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    answers_make(source, 1)

    response = admin_client.post(
        "/admin/integrations/destination/",
        {"action": "sync_back_now", "_selected_action": [destination.pk]},
        follow=True,
    )

    assert "Sync-back started for 1 destination" in response.content.decode()
    assert len(sent_events(httpserver)) == 1


def test_the_command_dry_run_shows_progress_and_sends_nothing(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    answers_make(source, 3)
    out = StringIO()

    call_command("sync_back", "--source", source.slug, "--dry-run", stdout=out)

    text = out.getvalue()
    assert "[" + "#" * 30 + "] 3/3 responses" in text
    assert "done: would send 3 identify calls in 1 batches" in text
    assert httpserver.log == []


def test_the_command_sends_and_a_rerun_sends_nothing(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    answers_make(source, 3)
    out = StringIO()

    call_command("sync_back", stdout=out)
    call_command("sync_back", "--source", source.slug, stdout=out)

    assert "done: sent 3 identify calls in 1 batches" in out.getvalue()
    assert "done: sent 0 identify calls in 0 batches" in out.getvalue()
    assert len(httpserver.log) == 1


def test_the_command_fails_when_a_batch_does_not_go_through(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_data("down", status=503)
    answers_make(source, 1)

    with pytest.raises(CommandError, match="Not everything was sent"):
        call_command("sync_back", stdout=StringIO())


def test_the_command_refuses_an_unknown_source(db: None) -> None:
    with pytest.raises(CommandError, match="No Segment destination"):
        call_command("sync_back", "--source", "nope", stdout=StringIO())


def test_answers_older_than_a_minute_are_synced_by_the_default_run(
    destination: Destination, source: Source, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/v1/batch").respond_with_handler(segment_ok)
    answers_make(source, 1, start=timezone.now() - timedelta(minutes=2))

    call_command("sync_back", stdout=StringIO())

    assert len(sent_events(httpserver)) == 1
