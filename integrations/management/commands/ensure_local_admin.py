import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email


class Command(BaseCommand):
    help = (
        "Embedded mode only (`make run`): create a local superuser when there is none and print its "
        "credentials (HUB_ADMIN_USER / HUB_ADMIN_PASSWORD / HUB_ADMIN_EMAIL, or a generated password); "
        "a local admin without an email gets HUB_ADMIN_EMAIL."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.EMBEDDED:
            raise CommandError("ensure_local_admin runs only in embedded mode (HUB_EMBEDDED=1).")
        email = settings.HUB_LOCAL_ADMIN_EMAIL
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"HUB_ADMIN_EMAIL is not an email address: {email!r}") from None
        sign_in = f"sign in at {settings.HUB_BASE_URL}/admin/"
        user_model = get_user_model()
        username = settings.HUB_LOCAL_ADMIN_USER
        if user_model.objects.filter(is_superuser=True).exists():
            # An admin made before the email was asked for: "send test to me" needs one.
            without = user_model.objects.filter(username=username, is_superuser=True, email="")
            given = without.update(email=email)
            self.stdout.write(
                f"An admin user exists already ({'its email is now ' + email + '; ' if given else ''}"
                f"forgot the password? `.venv/bin/python manage.py changepassword {username}`); {sign_in}"
            )
            return
        password = settings.HUB_LOCAL_ADMIN_PASSWORD or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email=email, password=password)
        self.stdout.write(
            f"Created admin user {username!r} with password {password!r} and email {email}: {sign_in}"
        )
