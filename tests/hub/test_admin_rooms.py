"""The admin stays a console a newcomer can read: one screen per module, each a few pages long, its
HTML in templates, and the calls "Try it" starts from in fixture files of the app."""

import ast
import json
from pathlib import Path

import pytest
from django.apps import apps
from django.test import Client

from integrations.models import MappingSet
from integrations.segment.calls import CALL_TYPES, SegmentCall

ROOT = Path(__file__).resolve().parents[2]
# The project's own apps (not the installed ones, even in a virtualenv inside the checkout), and hub's
# shared admin toolkit.
APP_DIRS = {
    Path(config.path)
    for config in apps.get_app_configs()
    if Path(config.path) == ROOT.joinpath(*config.name.split("."))
}
ADMIN_MODULES = sorted(
    path
    for folder in APP_DIRS | {ROOT / "hub"}
    for path in [folder / "admin.py", *(folder / "admin").glob("*.py")]
    if path.exists()
)
SAMPLE_CALLS = ROOT / "integrations" / "fixtures" / "sample_calls"
# Longest HTML a format_html() call may hold inline (one element, e.g. a badge or a link); more goes
# into templates/admin/.
INLINE_HTML_LIMIT = 100
# A delete call carries nothing to map: "Try it" starts from an identify call for it.
MAPPABLE_TYPES = [t for t in CALL_TYPES if t != SegmentCall.DELETE]


def name_of(path: Path) -> str:
    return str(path.relative_to(ROOT))


@pytest.mark.parametrize("path", ADMIN_MODULES, ids=name_of)
def test_no_admin_module_is_longer_than_a_few_pages(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 450


def inline_html(path: Path) -> list[str]:
    """Template text written in the module: format_html() formats longer than one element, and
    templates compiled from strings."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        if name == "from_string":
            found.append(f"line {node.lineno}: a template compiled from a string")
        argument = {"format_html": 0, "format_html_join": 1}.get(str(name))
        if argument is None or len(node.args) <= argument:
            continue
        text = node.args[argument]
        if (
            isinstance(text, ast.Constant)
            and isinstance(text.value, str)
            and len(text.value) > INLINE_HTML_LIMIT
        ):
            found.append(f"line {node.lineno}: {text.value[:40]}...")
    return found


@pytest.mark.parametrize("path", ADMIN_MODULES, ids=name_of)
def test_admin_html_lives_in_templates(path: Path) -> None:
    assert inline_html(path) == []


@pytest.mark.parametrize("call_type", MAPPABLE_TYPES)
def test_every_call_type_a_mapping_can_take_has_a_sample_call_file(call_type: str) -> None:
    call = json.loads((SAMPLE_CALLS / f"{call_type}.json").read_text())
    assert call["type"] == call_type


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("call_types", "shown"), [*[([t], t) for t in MAPPABLE_TYPES], (["delete"], "identify")]
)
def test_try_it_starts_from_a_sample_call_of_the_mapping_s_first_call_type(
    admin_client: Client, call_types: list[str], shown: str
) -> None:
    mapping_set = MappingSet.objects.create(
        name="Custom", slug="custom", target="webhook", call_types=call_types
    )

    page = admin_client.get(f"/admin/integrations/mappingset/{mapping_set.pk}/try/").content.decode()

    assert f"&quot;type&quot;: &quot;{shown}&quot;" in page
