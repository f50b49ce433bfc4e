"""Shared fixtures: sources with write keys, API clients, a real Celery worker process."""

import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from hub.celery import app as celery_app
from integrations.models import Source
from integrations.services import write_key_add, write_keys_forget
from tests.sources import source_default

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# In CI every service a test needs must be there: a missing one fails the test instead of skipping it.
REQUIRE_SERVICES = os.environ.get("HUB_REQUIRE_SERVICES") == "1"


def service_missing(what: str) -> None:
    """Skip locally, fail in CI (HUB_REQUIRE_SERVICES=1), when `what` is not available."""
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required in CI but is not available")
    pytest.skip(f"{what} is not available")


# Property tests are about what the code returns, not how fast: Hypothesis's wall-clock checks (a
# 200 ms deadline per example, the too_slow health check on generating the first examples) fail them
# when the CPU is shared (test_traits.py's arrival-order property did, under load). The same timing
# settings as Hypothesis's own "ci" profile; a test's own @settings(suppress_health_check=...) replaces
# the list.
hypothesis.settings.register_profile(
    "hub", deadline=None, suppress_health_check=[hypothesis.HealthCheck.too_slow], print_blob=True
)
hypothesis.settings.load_profile("hub")

# The suite's own servers (pytest-httpserver, a second hub) listen on loopback, which production
# refuses to call (integrations/egress.py). Tests of that refusal set the setting to [].
TEST_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]


@pytest.fixture(autouse=True)
def _outbound_to_local_servers(settings: Any) -> None:
    settings.HUB_OUTBOUND_ALLOWED_NETWORKS = TEST_ALLOWED_NETWORKS


@pytest.fixture(autouse=True)
def _eager_celery() -> Iterator[None]:
    """Tasks enqueued on commit run inline, unless a test starts a real worker (`celery_worker`)."""
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _rate_limits_start_empty() -> None:
    """Every test starts with no request counted (the tests' cache is memory: see hub/settings.py)."""
    cache.clear()


@pytest.fixture(autouse=True)
def _write_keys_looked_up_afresh() -> None:
    """Every test's first request asks the database for its write key (a key of an earlier test's
    rolled-back source must not be trusted from the intake's short cache)."""
    write_keys_forget()


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(autouse=True)
def _no_429_unless_asked(request: pytest.FixtureRequest) -> Iterator[None]:
    """The default rates are meant for real people: a test that is answered 429 without asking for it
    (marker `throttled`) fails, so the suite shows that ordinary use is never throttled."""
    records = _Records()
    logger = logging.getLogger("hub.throttle")
    logger.addHandler(records)
    try:
        yield
    finally:
        logger.removeHandler(records)
    refused = [r.getMessage() for r in records.records if "answered 429" in r.getMessage()]
    if refused and request.node.get_closest_marker("throttled") is None:
        pytest.fail(f"throttled by the default rates: {refused[:3]}")


@pytest.fixture
def rates_off(settings: Any) -> None:
    """No rate limit: for fuzzing, which sends far more requests than any person would."""
    settings.HUB_RATE_SURVEY_PAGES = settings.HUB_RATE_COLLECTORS = settings.INTAKE_RATE_PER_SOURCE = ""


@pytest.fixture
def source_with_key(db: None) -> tuple[Source, str]:
    """The default source ("web-app", perhaps made already by a destination fixture) and a write key."""
    source = source_default()
    write_key = write_key_add(source=source)
    return source, write_key.key


@pytest.fixture
def source(source_with_key: tuple[Source, str]) -> Source:
    return source_with_key[0]


@pytest.fixture
def write_key(source_with_key: tuple[Source, str]) -> str:
    return source_with_key[1]


@pytest.fixture
def staff_user(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user(username="staff", password="pw-staff-123", is_staff=True)


def token_client(user: Any) -> APIClient:
    """An API client that authenticates as `user` with a token, as scripts do."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def api_client(django_user_model: Any) -> APIClient:
    """A superuser's token: every permission, so tests of behaviour need not list them."""
    return token_client(
        django_user_model.objects.create_superuser(username="api-admin", password="pw-api-123")
    )


@pytest.fixture
def staff_api_client(django_user_model: Any) -> Callable[..., APIClient]:
    """A staff user's token with only the permissions named ("customers.view_person", ...)."""

    def make(*permissions: str) -> APIClient:
        user = django_user_model.objects.create_user(
            username=f"staff-{django_user_model.objects.count()}", password="pw-staff-123", is_staff=True
        )
        user.user_permissions.add(*permissions_named(*permissions))
        return token_client(user)

    return make


def permissions_named(*names: str) -> list[Permission]:
    """Permission rows for "app_label.codename" names; a name that matches nothing fails the test."""
    found = []
    for name in names:
        app_label, codename = name.split(".")
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


def database_url_for_subprocess() -> str:
    """A DATABASE_URL that opens the test database this test run created."""
    conf = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{conf['NAME']}"
    user = conf.get("USER") or ""
    password = f":{conf['PASSWORD']}" if conf.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    port = f":{conf['PORT']}" if conf.get("PORT") else ""
    return f"postgres://{auth}{conf.get('HOST') or '127.0.0.1'}{port}/{conf['NAME']}"


def subprocess_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="hub.settings",
        SECRET_KEY=settings.SECRET_KEY,
        HUB_ENCRYPTION_KEYS=",".join(settings.HUB_ENCRYPTION_KEYS),
        HUB_HASH_KEYS=",".join(settings.HUB_HASH_KEYS),
        DATABASE_URL=database_url_for_subprocess(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CELERY_BROKER_URL=settings.CELERY_BROKER_URL,
        HUB_OUTBOUND_ALLOWED_NETWORKS=",".join(TEST_ALLOWED_NETWORKS),
        PYTHONPATH=str(ROOT),
    )
    env.pop("HUB_EMBEDDED", None)
    env.update(extra)
    return env


@pytest.fixture
def celery_worker(transactional_db: None, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real `celery worker` process on the configured broker (Redis in CI), reading the test database."""
    if settings.CELERY_BROKER_URL.startswith("redis://"):
        import redis

        try:
            redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=2).ping()
        except redis.RedisError:
            service_missing(f"Redis at {settings.CELERY_BROKER_URL}")
    celery_app.conf.task_always_eager = False
    log = tmp_path / "worker.log"
    # The worker imports settings outside pytest (production mode): the test database, the broker
    # and, for the filesystem broker, its folder come through the environment.
    extra: dict[str, str] = {}
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        extra["CELERY_FILESYSTEM_BROKER_DIR"] = str(settings.CELERY_FILESYSTEM_BROKER_DIR)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "hub",
                "worker",
                "--pool=solo",
                "--without-gossip",
                "--without-mingle",
                "--loglevel=INFO",
            ],
            cwd=ROOT,
            # The worker's --loglevel decides, not the settings' LOG_LEVEL: its "ready." is INFO.
            env=subprocess_env(LOG_LEVEL="WARNING", **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while b"ready." not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
