"""Every registered kind, inbound (integrations/registry.py HANDLERS) and outbound (CONNECTORS), is
a complete neighbour to copy: its class imports from its dotted path and names its own kind, it has
a settings schema, fixtures under tests/fixtures/<vendor>/ and a test module named after the vendor
that names the kind. A kind registered without them turns this red."""

import re
from pathlib import Path

import pytest
from django.utils.module_loading import import_string

from integrations.base import SettingsSchema
from integrations.registry import CONNECTORS, HANDLERS

ROOT = Path(__file__).resolve().parent
REGISTERED = [("inbound", kind, path) for kind, path in HANDLERS.items()] + [
    ("outbound", kind, path) for kind, path in CONNECTORS.items()
]


def vendor_of(path: str) -> str:
    """integrations.<vendor>.handler.ZendeskHandler -> <vendor>"""
    return path.split(".")[1]


def modules_of(vendor: str) -> list[Path]:
    """Test modules named after the vendor: test_<vendor>*.py, or any test module in a <vendor>/ folder."""
    return sorted(
        path
        for path in ROOT.rglob("test_*.py")
        if path.name.startswith(f"test_{vendor}") or vendor in path.relative_to(ROOT).parts[:-1]
    )


def registry_problems(kind: str, path: str) -> list[str]:
    problems: list[str] = []
    try:
        cls = import_string(path)
    except ImportError as exc:
        return [f"{path} does not import: {exc}"]
    if getattr(cls, "kind", None) != kind:
        problems.append(f"{path}.kind is {getattr(cls, 'kind', None)!r}, registered as {kind!r}")
    if not isinstance(getattr(cls, "settings_schema", None), SettingsSchema):
        problems.append(f"{path} has no settings_schema")
    vendor = vendor_of(path)
    if not list((ROOT / "fixtures" / vendor).glob("*.json")):
        problems.append(f"no fixtures under tests/fixtures/{vendor}/")
    named = re.compile(rf"""["']{re.escape(kind)}["']|{re.escape(path.rsplit(".", 1)[0])}""")
    if not any(named.search(module.read_text()) for module in modules_of(vendor)):
        problems.append(
            f"no test module for {vendor} (test_{vendor}*.py or tests/**/{vendor}/) names {kind!r}"
        )
    return problems


@pytest.mark.parametrize(
    ("direction", "kind", "path"), REGISTERED, ids=[f"{d}:{k}" for d, k, _ in REGISTERED]
)
def test_a_registered_kind_has_its_schema_fixtures_and_tests(direction: str, kind: str, path: str) -> None:
    assert registry_problems(kind, path) == []


def test_a_kind_without_schema_fixtures_or_tests_is_found() -> None:
    # A class that is no handler, as if registered under integrations/registry/: nothing a kind needs.
    assert registry_problems("hubspot", "integrations.registry.UnknownKind") == [
        "integrations.registry.UnknownKind.kind is None, registered as 'hubspot'",
        "integrations.registry.UnknownKind has no settings_schema",
        "no fixtures under tests/fixtures/registry/",
        "no test module for registry (test_registry*.py or tests/**/registry/) names 'hubspot'",
    ]
    assert registry_problems("x", "integrations.nowhere.connector.X") == [
        "integrations.nowhere.connector.X does not import: No module named 'integrations.nowhere'"
    ]
