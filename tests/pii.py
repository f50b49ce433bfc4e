"""The personal-data scan: every text and JSON column of every model (ours and third-party apps'),
searched for given values. It walks `apps.get_models()`, so a table added tomorrow is scanned too.

Values are matched case-insensitively, as they are and URL-encoded (form bodies and query strings in
stored exchanges: `erase-me%40example.com`). Session data is scanned decoded, as it is stored signed
and base64-encoded. Django's local-memory cache (the test suite's) is scanned as well: vendor state
cached per person would be personal data too.
"""

import json
import pickle
from typing import Any
from urllib.parse import quote, quote_plus

from django.apps import apps
from django.conf import settings
from django.contrib.sessions.base_session import AbstractBaseSession
from django.core.cache import caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import models

TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField)


def _forms(needles: tuple[str, ...]) -> dict[str, str]:
    """Each way a value may be written down, lower-cased, to the value it stands for."""
    forms: dict[str, str] = {}
    for needle in needles:
        for form in (needle, quote(needle, safe=""), quote_plus(needle)):
            forms[form.lower()] = needle
    return forms


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def scanned_columns() -> list[str]:
    """Every column the scan reads, as app_label.Model.field (to show the scan is not empty)."""
    return [
        f"{model._meta.label}.{field.name}"
        for model in _models()
        for field in model._meta.concrete_fields
        if isinstance(field, TEXT_FIELDS)
    ]


def _models() -> list[type[models.Model]]:
    # Proxy models read their concrete model's table; unmanaged ones may have no table here.
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def pii_hits(*needles: str) -> list[str]:
    """Where any of `needles` is still stored: ["customers.Person.email #3: 'ann@example.com'", ...]."""
    forms = _forms(needles)
    hits: list[str] = []

    def check(where: str, text: str) -> None:
        lowered = text.lower()
        hits.extend(f"{where}: {needle!r}" for form, needle in forms.items() if form in lowered)

    for model in _models():
        columns = [field for field in model._meta.concrete_fields if isinstance(field, TEXT_FIELDS)]
        if not columns:
            continue
        rows = model._base_manager.values_list("pk", *(field.attname for field in columns))
        for pk, *values in rows.iterator():
            for field, value in zip(columns, values, strict=True):
                check(f"{model._meta.label}.{field.name} #{pk}", _text(value))
        if issubclass(model, AbstractBaseSession):
            for session in model._base_manager.all():
                check(f"{model._meta.label} #{session.pk} (decoded)", _text(session.get_decoded()))
    for alias in settings.CACHES:
        cache = caches[alias]
        if isinstance(cache, LocMemCache):
            for key, value in list(cache._cache.items()):  # type: ignore[attr-defined]
                check(f"cache {alias!r} key {key!r}", f"{key} {pickle.loads(value)!r}")  # noqa: S301
    return sorted(set(hits))
