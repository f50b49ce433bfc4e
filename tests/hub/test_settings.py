"""Production reads its configuration from the environment and refuses to start without it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCTION_ENV = {
    "SECRET_KEY": "x" * 50,
    "HUB_ENCRYPTION_KEYS": "lBz1WW_bxF1lDDAHfrnKlZBGZ0N8jVCzNc6-rIpjy1c=",
    "HUB_HASH_KEYS": "a-hash-key-of-at-least-32-characters-0123",
    "DATABASE_URL": "postgres://hub@127.0.0.1:5432/hub",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "hub.example.com",
}


def django_check(env: dict[str, str], *, show: str = "settings.DEBUG") -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in PRODUCTION_ENV and not k.startswith(("HUB_", "CACHE_"))
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; print({show})",
        ],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "hub.settings", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_with_its_environment_and_debug_off() -> None:
    result = django_check(PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize("missing", sorted(set(PRODUCTION_ENV) - {"ALLOWED_HOSTS"}))
def test_production_refuses_to_start_without(missing: str) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
    result = django_check(env)
    assert result.returncode != 0
    assert f"{missing} is not set. Production needs" in result.stderr


def test_production_allows_no_internal_network_by_default() -> None:
    result = django_check(PRODUCTION_ENV, show="settings.HUB_OUTBOUND_ALLOWED_NETWORKS")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"

    allowed = django_check(
        {**PRODUCTION_ENV, "HUB_OUTBOUND_ALLOWED_NETWORKS": "127.0.0.1/32, 10.20.0.0/16"},
        show="settings.HUB_OUTBOUND_ALLOWED_NETWORKS",
    )
    assert allowed.stdout.strip() == "['127.0.0.1/32', '10.20.0.0/16']"


def test_a_malformed_allowed_network_stops_the_start() -> None:
    result = django_check({**PRODUCTION_ENV, "HUB_OUTBOUND_ALLOWED_NETWORKS": "10.20.0.5/16"})
    assert result.returncode != 0
    assert "HUB_OUTBOUND_ALLOWED_NETWORKS: '10.20.0.5/16' is not a network in CIDR form" in result.stderr


def settings_value(env: dict[str, str], expression: str) -> str:
    result = django_check(env, show=expression)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_production_shares_its_cache_through_the_brokers_redis() -> None:
    """Rate-limit counters must hold across web processes: not a per-process memory cache."""
    cache = settings_value(PRODUCTION_ENV, "settings.CACHES['default']")
    assert "django.core.cache.backends.redis.RedisCache" in cache
    assert "redis://127.0.0.1:6379/0" in cache


def test_cache_url_chooses_the_cache() -> None:
    env = {**PRODUCTION_ENV, "CACHE_URL": "redis://cache.internal:6379/3"}
    assert "redis://cache.internal:6379/3" in settings_value(env, "settings.CACHES['default']['LOCATION']")


def test_embedded_mode_keeps_its_cache_in_files_under_var(tmp_path: Path) -> None:
    env = {"HUB_EMBEDDED": "1", "HUB_VAR_DIR": str(tmp_path)}
    cache = settings_value(env, "settings.CACHES['default']")
    assert "FileBasedCache" in cache
    assert str(tmp_path / "cache") in cache


def test_a_rate_that_is_not_one_refuses_to_start() -> None:
    result = django_check({**PRODUCTION_ENV, "HUB_RATE_SURVEY_PAGES": "sixty a minute"})
    assert result.returncode != 0
    assert "HUB_RATE_SURVEY_PAGES must look like 60/m" in result.stderr


def test_production_refuses_a_hash_key_shorter_than_32_characters() -> None:
    result = django_check({**PRODUCTION_ENV, "HUB_HASH_KEYS": f"{'k' * 40},too-short"})
    assert result.returncode != 0
    assert "HUB_HASH_KEYS must hold one or more keys of at least 32 characters" in result.stderr


def test_embedded_mode_adds_a_hash_key_to_the_secrets_an_older_version_generated(tmp_path: Path) -> None:
    older = (
        "SECRET_KEY=kept-secret-key-from-an-older-version\n"
        "HUB_ENCRYPTION_KEYS=lBz1WW_bxF1lDDAHfrnKlZBGZ0N8jVCzNc6-rIpjy1c=\n"
    )
    (tmp_path / "embedded.env").write_text(older)

    first = django_check(
        {"HUB_EMBEDDED": "1", "HUB_VAR_DIR": str(tmp_path)}, show="settings.HUB_HASH_KEYS[0]"
    )

    assert first.returncode == 0, first.stderr
    stored = (tmp_path / "embedded.env").read_text()
    assert stored.startswith(older)  # the keys that encrypt existing secrets are kept
    assert f"HUB_HASH_KEYS={first.stdout.strip()}\n" in stored
    assert len(first.stdout.strip()) >= 32
