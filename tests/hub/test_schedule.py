"""Every periodic task declared in code exists after migrate and names a real Celery task."""

import pytest
from django_celery_beat.models import PeriodicTask

from hub.celery import app
from hub.schedule import CRONTAB_TASKS, PERIODIC_TASKS

pytestmark = pytest.mark.django_db


def test_every_declared_periodic_task_is_scheduled_and_registered() -> None:
    app.loader.import_default_modules()
    declared = {name: task for name, (task, _) in {**PERIODIC_TASKS, **CRONTAB_TASKS}.items()}

    scheduled = dict(PeriodicTask.objects.filter(name__in=declared).values_list("name", "task"))

    assert scheduled == declared
    assert set(declared.values()) <= set(app.tasks)
