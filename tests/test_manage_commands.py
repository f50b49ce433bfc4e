"""The README's `manage.py` commands in the folder `make run` set up, as a new user types them.

Real subprocesses, as in tests/test_make_run.py: `make run`'s steps (migrate, ensure_local_admin with
HUB_EMBEDDED=1) in a scratch var/ folder, then each command without HUB_EMBEDDED or any production
variable. A command that cannot start says in one line what is missing.
"""

import re
import subprocess
from pathlib import Path

from tests.test_make_run import ROOT, embedded_env, manage, run

# What the README shows (and a test below runs): a new command in the README must be run here too.
README_COMMANDS = {"create_source", "drf_create_token", "sync_back", "deliver_due", "changepassword"}


def as_typed(env: dict[str, str]) -> dict[str, str]:
    """The shell of a new user after `make run`: no HUB_EMBEDDED, no production variable."""
    return {k: v for k, v in env.items() if k not in ("HUB_EMBEDDED", "HUB_ADMIN_PASSWORD")}


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if "AXES:" not in line]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_every_manage_command_of_the_readme_is_run_here() -> None:
    readme = (ROOT / "README.md").read_text()
    assert set(re.findall(r"manage\.py (\w+)", readme)) - {"migrate", "collectstatic"} == README_COMMANDS


def test_readme_commands_work_as_written_in_the_folder_make_run_set_up(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var", 8000)
    manage(env, "migrate", "--no-input")
    manage(env, "ensure_local_admin")
    typed = as_typed(env)

    created = run(typed, "create_source", "Production web app")
    assert created.returncode == 0, created.stderr
    assert re.search(r"Write key: \S{16,}", created.stdout)

    token = run(typed, "drf_create_token", "admin")
    assert token.returncode == 0, token.stderr
    assert re.search(r"Generated token [0-9a-f]{40} for user admin", token.stdout)

    delivered = run(typed, "deliver_due")
    assert delivered.returncode == 0, delivered.stderr

    # No Segment destination yet: the command starts and says so, in one line.
    assert "No Segment destination matches" in one_line_error(run(typed, "sync_back"))

    # The README's way to reset the local admin's password on a later `make run`.
    changed = run(typed, "changepassword", "admin", stdin="New-local-pass-7\nNew-local-pass-7\n")
    assert changed.returncode == 0, changed.stderr
    check = (
        "from django.contrib.auth.models import User; "
        "print(User.objects.get().check_password('New-local-pass-7'))"
    )
    assert run(typed, "shell", "-v", "0", "-c", check).stdout.strip() == "True"


def test_a_command_without_configuration_says_what_is_missing_in_one_line(tmp_path: Path) -> None:
    typed = as_typed(embedded_env(tmp_path / "never-ran", 8000))  # `make run` never ran here
    line = one_line_error(run(typed, "create_source", "Web app"))
    assert "SECRET_KEY is not set" in line
    assert "make run" in line
    assert ".env.example" in line


def test_a_command_before_migrate_says_so_in_one_line(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var", 8000)
    line = one_line_error(run(env, "create_source", "Web app"))
    assert "no such table" in line
    assert "migrate" in line


def test_a_port_that_is_no_port_is_one_line(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var", 8000)
    env["HUB_PORT"] = "80a"
    assert "HUB_PORT must be a port number" in one_line_error(run(env, "check"))


PREVIEW = """
from surveys.models import Survey
from surveys.services.previews import survey_preview_email, email_html
survey, _ = Survey.objects.get_or_create(slug="nps", defaults={"name": "NPS", "company_name": "Acme"})
email, _ = survey_preview_email(survey=survey, language="en")
print(email.extra_headers["List-Unsubscribe"])
print(email.body)
print(email_html(email))
"""


def test_links_follow_the_port_of_make_run_unless_hub_base_url_is_set(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var", 8100)
    env.pop("HUB_BASE_URL", None)
    manage(env, "migrate", "--no-input")
    assert "sign in at http://127.0.0.1:8100/admin/" in manage(env, "ensure_local_admin")

    preview = manage(env, "shell", "-v", "0", "-c", PREVIEW)
    links = re.findall(r"https?://[^\s\"'<>]+/s/[^\s\"'<>]*", preview)
    assert len(links) > 11
    assert all(link.startswith("http://127.0.0.1:8100/s/") for link in links), links
    assert preview.startswith("<http://127.0.0.1:8100/s/preview/unsubscribe/>")

    env["HUB_BASE_URL"] = "https://feedback.example.com/"
    preview = manage(env, "shell", "-v", "0", "-c", PREVIEW)
    assert preview.startswith("<https://feedback.example.com/s/preview/unsubscribe/>")
    assert "sign in at https://feedback.example.com/admin/" in manage(env, "ensure_local_admin")


def test_the_local_admin_has_an_email_so_send_test_to_me_works(tmp_path: Path) -> None:
    env = embedded_env(tmp_path / "var", 8000)
    manage(env, "migrate", "--no-input")
    assert "email admin@localhost" in manage(env, "ensure_local_admin")
    email = "from django.contrib.auth.models import User; print(User.objects.get().email)"
    assert manage(env, "shell", "-v", "0", "-c", email).strip() == "admin@localhost"

    # An admin made before the email was asked for gets HUB_ADMIN_EMAIL on the next `make run`.
    forget = "from django.contrib.auth.models import User; User.objects.update(email='')"
    manage(env, "shell", "-v", "0", "-c", forget)
    env["HUB_ADMIN_EMAIL"] = "ann@acme.example"
    assert "its email is now ann@acme.example" in manage(env, "ensure_local_admin")
    assert manage(env, "shell", "-v", "0", "-c", email).strip() == "ann@acme.example"

    env["HUB_ADMIN_EMAIL"] = "not an address"
    assert "HUB_ADMIN_EMAIL is not an email address" in one_line_error(run(env, "ensure_local_admin"))
