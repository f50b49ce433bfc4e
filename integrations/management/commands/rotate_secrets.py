from typing import Any

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from hub.crypto import EncryptedTextField


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret with the first key of HUB_ENCRYPTION_KEYS. Rotation: put the new "
        "key first (keep the old one after it), restart, run this, then remove the old key."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        total = 0
        for model in apps.get_models():
            names = [f.name for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]
            if not names:
                continue
            with transaction.atomic():
                # Loading decrypts with whichever key fits; saving encrypts with the first key.
                for obj in model._base_manager.select_for_update().only("pk", *names).iterator():
                    obj.save(update_fields=names)
                    total += 1
        self.stdout.write(f"Re-encrypted the secrets of {total} row(s) with the current key.")
