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
    "DATABASE_URL": "postgres://hub@127.0.0.1:5432/hub",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
    "ALLOWED_HOSTS": "hub.example.com",
}


def django_check(env: dict[str, str], *, show: str = "settings.DEBUG") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV and not k.startswith("HUB_")}
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
    assert f"Set the {missing} environment variable" in result.stderr


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
