"""The admin's login locks a username out on an address after repeated failures (django-axes)."""

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

pytestmark = pytest.mark.django_db

PASSWORD = "right-password-123"


@pytest.fixture
def ops(django_user_model: Any) -> Any:
    return django_user_model.objects.create_superuser("ops", "ops@example.com", PASSWORD)


def login(client: Client, password: str, *, username: str = "ops", address: str = "192.0.2.10") -> Any:
    return client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}, REMOTE_ADDR=address
    )


def fail(client: Client, times: int, **kwargs: Any) -> None:
    for attempt in range(1, times + 1):
        response = login(client, "wrong-password", **kwargs)
        # The form again with its error; the failure that reaches the limit is answered with the lock.
        assert response.status_code == (429 if attempt == settings.AXES_FAILURE_LIMIT else 200)
        assert "_auth_user_id" not in client.session


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_the_defaults_are_five_failures_and_fifteen_minutes() -> None:
    assert settings.AXES_FAILURE_LIMIT == 5
    assert timedelta(minutes=15) == settings.AXES_COOLOFF_TIME


def test_the_sixth_attempt_with_the_right_password_is_refused(client: Client, ops: Any) -> None:
    fail(client, 5)

    sixth = login(client, PASSWORD)

    assert sixth.status_code == 429
    assert "Too many failed logins" in sixth.content.decode()
    assert not logged_in(client)
    assert client.get("/admin/").status_code == 302  # still sent to the login page


def test_fewer_failures_do_not_lock_and_a_success_starts_the_count_again(client: Client, ops: Any) -> None:
    fail(client, 4)
    assert login(client, PASSWORD).status_code == 302
    assert logged_in(client)

    client.logout()
    fail(client, 4)
    assert login(client, PASSWORD).status_code == 302


def test_the_lock_is_for_that_username_on_that_address(
    client: Client, ops: Any, django_user_model: Any
) -> None:
    django_user_model.objects.create_superuser("ann", "ann@example.com", PASSWORD)
    fail(client, 5)

    assert login(client, PASSWORD, address="198.51.100.7").status_code == 302  # ops, elsewhere
    client.logout()
    assert login(client, PASSWORD, username="ann").status_code == 302  # another user, same address


def test_the_lock_lifts_after_the_cool_off(client: Client, ops: Any) -> None:
    fail(client, 5)
    assert login(client, PASSWORD).status_code == 429

    with time_machine.travel(timezone.now() + timedelta(minutes=16)):
        assert login(client, PASSWORD).status_code == 302


def test_axes_reset_username_unlocks_at_once(client: Client, ops: Any) -> None:
    fail(client, 5)

    call_command("axes_reset_username", "ops")

    assert login(client, PASSWORD).status_code == 302
    assert logged_in(client)
