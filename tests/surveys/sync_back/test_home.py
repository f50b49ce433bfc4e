"""The sync-back is survey data going out: it lives with the surveys (service, tasks, command) and
reaches Segment through the delivery engine, so the integrations app reads nothing of the surveys."""

import ast
from pathlib import Path

from django.core.management import get_commands

from hub.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[3]


def _imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_the_integrations_app_imports_nothing_of_the_surveys_app() -> None:
    # The admin console is the one top-level screen of both apps (its sync-now action starts a
    # surveys service); every other module of integrations sits below surveys.
    upward = {
        f"{path.relative_to(ROOT)}: {module}"
        for path in sorted((ROOT / "integrations").rglob("*.py"))
        if "admin" not in path.relative_to(ROOT).parts[1] and "migrations" not in path.parts
        for module in _imported_modules(path)
        if module == "surveys" or module.startswith("surveys.")
    }

    assert upward == set()


def test_the_command_and_the_tasks_are_the_surveys_app_s() -> None:
    assert get_commands()["sync_back"] == "surveys"
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscover the tasks
    for name in ("integrations.sync_back_all", "integrations.sync_back_destination"):
        assert celery_app.tasks[name].__module__ == "surveys.tasks", name
