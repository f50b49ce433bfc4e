"""The Celery application: configured from Django settings (CELERY_* names), tasks autodiscovered."""

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

app = Celery("hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def logging_from_django(loglevel: int | str | None = None, **kwargs: Any) -> None:
    """The worker and beat log through Django's LOGGING, whose formatter names no one (hub/logs.py),
    instead of the handlers Celery would install (a receiver of this signal stops Celery configuring
    logging); at the level given to them (`--loglevel`), as Celery's own configuration would."""
    import logging
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)


@signals.task_prerun.connect
@signals.task_postrun.connect
def database_connections_age(sender: Any = None, **kwargs: Any) -> None:
    """Around each task, what Django does around each request: close a connection that is older than
    CONN_MAX_AGE, broken, or left inside a transaction; keep the others for the next task
    (CELERY_DB_REUSE_MAX keeps Celery's fixup from closing all of them every time). Not for a task
    run inline (eager), which shares its caller's connection and transaction."""
    if sender is None or getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
