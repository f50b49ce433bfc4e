"""Secrets at rest, and keyed hashes of personal values.

Secrets: MultiFernet over the keys in settings.HUB_ENCRYPTION_KEYS. The first key encrypts; every key
decrypts, so a key is rotated by putting the new one first, running `manage.py rotate_secrets`, then
removing the old one (docs/operations.md).

Keyed hashes: HMAC-SHA256 under the keys in settings.HUB_HASH_KEYS, for what the hub must recognise
without keeping (an erased person's email, an unsubscribed address). A bare SHA-256 of an email is
reversed by hashing a list of known emails; without the key it cannot be. The first key hashes, every
key matches; stored hashes cannot be re-hashed (the values are gone), so old keys stay as long as the
rows they wrote should hold (docs/operations.md).
"""

import hashlib
import hmac
from functools import cache, lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet() -> MultiFernet:
    keys = settings.HUB_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("HUB_ENCRYPTION_KEYS must hold at least one Fernet key.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(
            f"HUB_ENCRYPTION_KEYS holds a key that is not a Fernet key: {exc}"
        ) from exc


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with HUB_ENCRYPTION_KEYS (was a key removed too early?)."
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a stored token with the current first key."""
    return _fernet().rotate(token.encode()).decode()


class EncryptedTextField(models.TextField):
    """A text column stored as a Fernet token; Python code only ever sees the plaintext."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(value)


# The key id names a key in stored rows (so an operator can count what each key still holds) without
# revealing anything about the key.
LEGACY_KEY_ID = "sha256"


@lru_cache(maxsize=8)
def _hash_keys(keys: tuple[str, ...]) -> tuple[tuple[str, bytes], ...]:
    if not keys:
        raise ImproperlyConfigured("HUB_HASH_KEYS must hold at least one key.")
    return tuple(
        (hmac.new(key.encode(), b"hub key id", hashlib.sha256).hexdigest()[:12], key.encode()) for key in keys
    )


def hash_key_ids() -> list[str]:
    """Ids of the keys in HUB_HASH_KEYS, in order (the first one hashes new rows)."""
    return [key_id for key_id, _ in _hash_keys(tuple(settings.HUB_HASH_KEYS))]


def keyed_hash(text: str) -> tuple[str, str]:
    """(key id, hex HMAC-SHA256 of `text`) under the first key of HUB_HASH_KEYS: what a new row stores."""
    key_id, key = _hash_keys(tuple(settings.HUB_HASH_KEYS))[0]
    return key_id, hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def keyed_hash_candidates(text: str) -> list[str]:
    """Every hash a row about `text` may have been stored under: each key of HUB_HASH_KEYS, and the
    bare SHA-256 of rows from before keyed hashes while HUB_HASH_LEGACY_SHA256 is on."""
    found = [
        hmac.new(key, text.encode(), hashlib.sha256).hexdigest()
        for _, key in _hash_keys(tuple(settings.HUB_HASH_KEYS))
    ]
    if settings.HUB_HASH_LEGACY_SHA256:
        found.append(hashlib.sha256(text.encode()).hexdigest())
    return found
