import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Embedded mode only (`make run`): create a local superuser when there is none and print its "
        "credentials (HUB_ADMIN_USER / HUB_ADMIN_PASSWORD, or a generated password)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.EMBEDDED:
            raise CommandError("ensure_local_admin runs only in embedded mode (HUB_EMBEDDED=1).")
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            self.stdout.write("An admin user exists already; sign in at http://127.0.0.1:8000/admin/")
            return
        username = settings.HUB_LOCAL_ADMIN_USER
        password = settings.HUB_LOCAL_ADMIN_PASSWORD or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(username=username, email="", password=password)
        self.stdout.write(
            f"Created admin user {username!r} with password {password!r}: "
            "sign in at http://127.0.0.1:8000/admin/"
        )
