"""`make run` as a new user meets it: embedded defaults, web + worker + beat under honcho, Ctrl-C stops all.

Runs the same steps as the Makefile's `run` target (migrate, ensure_local_admin, honcho start -f
Procfile) in a scratch var/ folder, with no DATABASE_URL or broker: SQLite and the filesystem broker.
"""

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import requests
from segment.analytics.client import Client

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_env(var_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "CELERY_", "DJANGO_"))}
    env.pop("SECRET_KEY", None)
    env.pop("HUB_ENCRYPTION_KEYS", None)
    env.pop("HUB_HASH_KEYS", None)
    env.update(
        HUB_EMBEDDED="1",
        HUB_VAR_DIR=str(var_dir),
        HUB_PORT=str(port),
        HUB_ADMIN_USER="admin",
        HUB_ADMIN_PASSWORD="first-run-password",
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
    )
    return env


def run(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`manage.py <args>` in a subprocess, whatever its exit status."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def manage(env: dict[str, str], *args: str) -> str:
    """`manage.py <args>`, which must succeed; its output."""
    result = run(env, *args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_for(predicate: Callable[[], bool], what: str, log: Path, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; honcho said:\n{log.read_text()[-4000:]}")
        time.sleep(0.3)


def test_make_run_serves_intake_and_admin_processes_events_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = embedded_env(tmp_path / "var", port)
    manage(env, "migrate", "--no-input")
    assert "Created admin user 'admin' with password 'first-run-password'" in manage(
        env, "ensure_local_admin"
    )
    key = manage(env, "create_source", "Web app").split("Write key: ")[1].strip()
    # The secrets embedded mode generated for itself stay on this machine, readable only by its owner.
    assert (tmp_path / "var" / "embedded.env").stat().st_mode & 0o077 == 0

    log = tmp_path / "honcho.log"
    with log.open("wb") as out:
        honcho = subprocess.Popen(
            [str(BIN / "honcho"), "start", "-f", "Procfile"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:

        def web_up() -> bool:
            try:
                return requests.get(f"{base}/admin/login/", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(web_up, "the web server", log)
        wait_for(lambda: b"ready." in log.read_bytes(), "the worker", log)
        wait_for(lambda: b"beat: Starting" in log.read_bytes(), "beat", log)

        errors: list[Exception] = []
        client = Client(key, host=base, on_error=lambda e, batch: errors.append(e), max_retries=1)
        client.identify("first-user", {"email": "first@example.com"})
        client.flush()
        client.join()
        assert errors == []

        def processed() -> bool:
            with sqlite3.connect(tmp_path / "var" / "hub.sqlite3") as db:
                rows = db.execute(
                    "SELECT status FROM integrations_inboundevent WHERE user_id = 'first-user'"
                ).fetchall()
            return rows == [("processed",)]

        wait_for(processed, "the worker to process the event", log)

        session = requests.Session()
        login = session.get(f"{base}/admin/login/", timeout=5)
        assert login.status_code == 200
        response = session.post(
            f"{base}/admin/login/?next=/admin/integrations/inboundevent/",
            data={
                "username": "admin",
                "password": "first-run-password",
                "csrfmiddlewaretoken": session.cookies["csrftoken"],
                "next": "/admin/integrations/inboundevent/",
            },
            timeout=5,
        )
        assert response.status_code == 200
        assert "first-user" in response.text
    finally:
        os.killpg(honcho.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
        try:
            honcho.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(honcho.pid, signal.SIGKILL)
            raise AssertionError(f"Ctrl-C did not stop everything:\n{log.read_text()[-3000:]}") from None

    left = subprocess.run(["pgrep", "-g", str(honcho.pid)], capture_output=True, text=True)
    assert left.stdout.strip() == "", f"processes left running: {left.stdout}"
