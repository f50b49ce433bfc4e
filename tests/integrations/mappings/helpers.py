"""Shared by the mapping tests and the admin's browser test."""

import importlib
import json
from typing import Any

from django.apps import apps

from integrations.mappings import CompiledMapping, mapping_compile
from integrations.models import MappingRule, MappingSet
from tests.conftest import FIXTURES

PRESETS_MIGRATION = importlib.import_module("integrations.migrations.0003_mapping_presets")


def presets_load() -> None:
    """Create the shipped presets as the data migration does (a transactional test's flush drops
    migration data; get_or_create makes this a no-op when they are there)."""
    PRESETS_MIGRATION.presets_create(apps, None)


def segment_call(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / "segment" / f"{name}.json").read_text())
    return data


def rule(source: str, target: str, transform: str = "", **fields: Any) -> MappingRule:
    return MappingRule(source_paths=source, target=target, transform=transform, **fields)


def compiled(*rules: MappingRule, call_types: tuple[str, ...] = ()) -> CompiledMapping:
    """A mapping compiled from unsaved rules: no database needed."""
    return mapping_compile(mapping_set=MappingSet(name="test", call_types=list(call_types)), rules=rules)
