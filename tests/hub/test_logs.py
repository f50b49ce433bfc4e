"""The hub's log lines name no one: an error they show, in its traceback or as a value of the message
(Celery's "Task … raised unexpected: %(exc)s"), is written as `hub.errors.error_text` writes it, without
the quoted values and addresses a database error or a bug's message carries. The frames stay."""

import logging
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub.logs import NamingNoOne
from integrations.tasks import deliver_deliveries
from tests.conftest import ROOT, subprocess_env

# A bug's error, raised while handling a database error that quotes the row (as PostgreSQL's DETAIL does).
LOGGING_AN_ERROR = """
import logging

import django

django.setup()
try:
    try:
        raise LookupError("Failing row contains (7, Ann Smith, ann@example.com)")
    except LookupError:
        raise ValueError("no trait 'plan' for ann@example.com")
except ValueError:
    logging.getLogger("surveys.services.dispatch").exception("deciding invitation %s failed", 7)
"""


def test_a_logged_error_keeps_its_traceback_and_names_no_one() -> None:
    run = subprocess.run(
        [sys.executable, "-c", LOGGING_AN_ERROR],
        cwd=ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )

    logged = run.stderr
    assert run.returncode == 0, logged
    assert "ERROR surveys.services.dispatch deciding invitation 7 failed" in logged
    assert "Traceback (most recent call last):" in logged
    assert 'File "<string>", line 9, in <module>' in logged
    assert "LookupError: Failing row contains (…)" in logged
    assert "During handling of the above exception, another exception occurred:" in logged
    assert "ValueError: no trait … for …" in logged
    assert "Ann" not in logged
    assert "ann@" not in logged


@pytest.mark.worker
def test_a_task_failing_in_the_worker_is_logged_naming_no_one(
    celery_worker: subprocess.Popen[bytes], tmp_path: Path
) -> None:
    log = tmp_path / "worker.log"  # the celery_worker fixture's
    # A bug: a person where an id belongs. The database's error quotes it.
    deliver_deliveries.delay(["Ann Smith <ann@example.com>"])  # type: ignore[list-item]

    deadline = time.monotonic() + 30
    while b"raised unexpected" not in log.read_bytes():
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.2)
    time.sleep(0.5)  # the traceback after the line

    logged = log.read_text()
    assert "integrations.deliver_deliveries" in logged
    assert "Traceback (most recent call last):" in logged
    assert [line for line in logged.splitlines() if "Ann" in line or "ann@" in line] == []


def test_a_traceback_another_handler_formatted_first_is_written_naming_no_one() -> None:
    """logging caches a record's traceback text on the record (exc_text) for every handler after the
    first; a plain handler before the hub's must not decide what the hub's writes."""
    address = "ann@example.com"  # a value, as in the hub's code: the traceback's source lines show no one
    try:
        raise ValueError(f"no trait 'plan' for {address}")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, "f", 1, "failed", (), sys.exc_info())
    logging.Formatter().format(record)  # e.g. a test capture or an extra handler, first

    written = NamingNoOne().format(record)

    assert "ValueError: no trait … for …" in written
    assert "ann@" not in written
