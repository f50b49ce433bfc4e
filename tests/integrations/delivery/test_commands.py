"""`manage.py deliver_due` and the beat entry: the safety net for deliveries whose task was lost."""

from io import StringIO

import pytest
from django.core.management import call_command
from pytest_httpserver import HTTPServer

from hub.schedule import PERIODIC_TASKS
from integrations.models import Delivery, Destination
from tests.integrations.delivery.conftest import enqueue_one


def test_deliver_due_sends_what_is_due(webhook: Destination, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hooks/feedback").respond_with_data("ok")
    delivery = enqueue_one()  # its on-commit task never runs here: as if the broker had been down
    out = StringIO()

    call_command("deliver_due", stdout=out)

    assert out.getvalue().strip() == "Attempted 1 delivery."
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED


@pytest.mark.django_db
def test_the_beat_runs_deliver_due_every_minute() -> None:
    from django_celery_beat.models import PeriodicTask

    assert ("integrations.deliver_due", 60) in PERIODIC_TASKS.values()
    task = PeriodicTask.objects.get(task="integrations.deliver_due")
    assert task.interval is not None
    assert task.interval.every == 60
