"""The admin's rule form reads what staff type; the try-it page is for staff who may view mappings."""

from typing import Any

import pytest
from django.test import Client

from integrations.admin.mappings import MappingRuleForm
from integrations.mappings import call_parse
from integrations.models import MappingRule, MappingSet
from tests.integrations.mappings.helpers import presets_load


def rule_form(**fields: Any) -> MappingRuleForm:
    data = {
        "position": "10",
        "source_paths": "traits.plan",
        "target": "plan",
        "transform": "",
        "options": "{}",
    }
    return MappingRuleForm(data={**data, **fields}, instance=MappingRule(mapping_set=MappingSet(name="s")))


@pytest.mark.parametrize(
    ("typed", "default"),
    [("General", "General"), ("0", 0), ('"0"', "0"), ("true", True), ('{"a": 1}', {"a": 1}), ("", None)],
)
def test_a_default_is_json_when_it_reads_as_json_and_text_otherwise(typed: str, default: Any) -> None:
    form = rule_form(default=typed)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["default"] == default


@pytest.mark.parametrize(("default", "shown"), [("General", "General"), ("0", '"0"'), (0, "0"), (None, "")])
def test_a_saved_default_is_shown_as_it_would_be_typed(default: Any, shown: str) -> None:
    form = MappingRuleForm(instance=MappingRule(target="x", source_paths="y", default=default))
    assert form["default"].value() == shown


def test_a_lookup_without_a_table_and_a_broken_path_are_refused() -> None:
    form = rule_form(source_paths="traits..language", transform="lookup", options="{}")
    assert not form.is_valid()
    assert form.errors == {
        "source_paths": [
            "'traits..language' is not a path: write names separated by dots, e.g. traits.address.city."
        ],
        "options": ['A lookup needs a table: {"table": {"en": "<value for en>", ...}}.'],
    }


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("{", "Invalid JSON at line 1 column 2: Expecting property name enclosed in double quotes."),
        (
            '{"type": "identify",\n  "traits": {"a": 1,}}',
            "Invalid JSON at line 2 column 21: Expecting property name enclosed in double quotes.",
        ),
        ("[1]", 'A Segment call is a JSON object, e.g. {"type": "identify", "userId": "u1", "traits": {}}.'),
        (
            '{"batch": [{"type": "identify"}]}',
            'This is a batch: paste one of the calls inside its "batch" list.',
        ),
    ],
)
def test_what_cannot_be_mapped_is_explained(text: str, error: str) -> None:
    assert call_parse(text) == (None, error)


@pytest.mark.django_db
def test_try_it_needs_permission_to_view_mappings(client: Client, staff_user: Any) -> None:
    presets_load()
    users = MappingSet.objects.get(name="CustomerSuccessBox users")
    client.force_login(staff_user)  # staff, but no permission on attribute mappings
    assert client.get(f"/admin/integrations/mappingset/{users.pk}/try/").status_code == 403
