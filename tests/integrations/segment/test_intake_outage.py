"""With the database unreachable, a production web process answers 503, never 200 and never 500."""

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.conftest import subprocess_env

ROOT = Path(__file__).resolve().parents[3]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_database_down_is_503_json(tmp_path: Path) -> None:
    port = free_port()
    env = subprocess_env(DATABASE_URL="postgres://hub@127.0.0.1:1/hub", DATABASE_CONN_MAX_AGE="0")
    log = (tmp_path / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "hub.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = requests.post(
                    f"http://127.0.0.1:{port}/v1/batch",
                    json={"batch": [{"type": "track", "userId": "u", "event": "E"}], "writeKey": "any-key"},
                    timeout=10,
                )
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, (tmp_path / "gunicorn.log").read_text()
                time.sleep(0.2)
        assert response.status_code == 503
        assert response.json()["code"] == "unavailable"
    finally:
        server.terminate()
        server.wait(timeout=10)
