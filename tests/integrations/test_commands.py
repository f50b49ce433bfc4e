"""Management commands: create_source, ensure_local_admin; secrets encrypted at rest."""

from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection
from django.http import HttpRequest
from django.test import Client, override_settings

from integrations.models import Source, WriteKey

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_create_source_prints_a_write_key_that_authenticates(client: Client) -> None:
    output = run("create_source", "Production web app")

    key = output.split("Write key: ")[1].strip()
    source = Source.objects.get(slug="production-web-app")
    assert source.name == "Production web app"
    response = client.post("/v1/identify", {"userId": "u1", "writeKey": key}, content_type="application/json")
    assert response.status_code == 200


def test_create_source_with_a_given_write_key(client: Client) -> None:
    run("create_source", "Legacy", "--slug", "legacy", "--write-key", "legacy-key-0001")

    assert Source.objects.get(slug="legacy").write_keys.get().key == "legacy-key-0001"
    with pytest.raises(CommandError, match="already in use"):
        run("create_source", "Other", "--write-key", "legacy-key-0001")
    with pytest.raises(CommandError, match="exists already"):
        run("create_source", "Legacy")


def test_write_keys_are_encrypted_at_rest() -> None:
    run("create_source", "Web", "--write-key", "plain-text-key-42")

    with connection.cursor() as cursor:
        cursor.execute("SELECT key, key_hash, hint FROM integrations_writekey")
        stored, key_hash, hint = cursor.fetchone()
    assert "plain-text-key-42" not in stored
    assert "plain-text-key-42" not in key_hash
    assert hint == "plai…y-42"
    assert WriteKey.objects.get().key == "plain-text-key-42"


@override_settings(EMBEDDED=True, HUB_LOCAL_ADMIN_USER="admin", HUB_LOCAL_ADMIN_PASSWORD="")
def test_ensure_local_admin_creates_one_admin_and_prints_its_password(client: Client) -> None:
    output = run("ensure_local_admin")

    password = output.split("with password '")[1].split("'")[0]
    # django-axes checks every login against its lockouts, so it needs the request.
    assert client.login(request=HttpRequest(), username="admin", password=password)
    assert "exists already" in run("ensure_local_admin")
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


@override_settings(EMBEDDED=False)
def test_ensure_local_admin_refuses_outside_embedded_mode() -> None:
    with pytest.raises(CommandError, match="only in embedded mode"):
        run("ensure_local_admin")
    assert not get_user_model().objects.exists()


def test_rotate_secrets_re_encrypts_with_the_new_key_so_the_old_one_can_go(settings: Any) -> None:
    from cryptography.fernet import Fernet

    from hub import crypto

    run("create_source", "Web", "--write-key", "rotate-me-0001")
    old_keys = list(settings.HUB_ENCRYPTION_KEYS)
    new_key = Fernet.generate_key().decode()

    settings.HUB_ENCRYPTION_KEYS = [new_key, *old_keys]
    crypto._fernet.cache_clear()
    assert "1 row(s)" in run("rotate_secrets")

    settings.HUB_ENCRYPTION_KEYS = [new_key]
    crypto._fernet.cache_clear()
    try:
        assert WriteKey.objects.get().key == "rotate-me-0001"
    finally:
        settings.HUB_ENCRYPTION_KEYS = old_keys
        crypto._fernet.cache_clear()
