"""Staff shape how Segment data maps to each destination's fields, and try a call, in the admin."""

import json
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from integrations.models import MappingSet
from tests.e2e.conftest import screenshot
from tests.integrations.mappings.helpers import presets_load, segment_call


@pytest.fixture
def presets(admin_credentials: tuple[str, str]) -> None:
    presets_load()  # the live server's transactional database was flushed of migration data


def open_preset(page: Page, name: str) -> None:
    page.goto("/admin/")
    page.get_by_role("link", name="Attribute mappings").click()
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name="Change attribute mapping")).to_be_visible()


def try_call(page: Page, call: Any) -> None:
    text = call if isinstance(call, str) else json.dumps(call, indent=2)
    page.get_by_label("Segment call").fill(text)
    page.get_by_role("button", name="Map it").click()


def test_presets_are_listed_with_their_destination_and_rule_count(presets: None, admin_page: Page) -> None:
    page = admin_page
    page.get_by_role("link", name="Attribute mappings").click()
    row = page.locator("#result_list tbody tr", has_text="CustomerSuccessBox users")
    expect(row.locator("td.field-target")).to_have_text("customersuccessbox.user")
    expect(row.locator("td.field-rule_count")).to_have_text("16")
    expect(row.locator("td.field-call_type_list")).to_have_text("identify")
    expect(page.locator("#result_list tbody tr")).to_have_count(MappingSet.objects.count())


def test_try_it_shows_the_mapped_output_and_each_problem(presets: None, admin_page: Page) -> None:
    page = admin_page
    open_preset(page, "CustomerSuccessBox users")
    page.get_by_role("link", name="Try it").click()
    expect(page.get_by_role("heading", name="Try CustomerSuccessBox users")).to_be_visible()
    # Prefilled with an identify call, the type this set is for.
    assert json.loads(page.get_by_label("Segment call").input_value())["type"] == "identify"

    call = segment_call("identify__csb_user")
    try_call(page, call)
    output = page.locator("#mapping-output")
    expect(output).to_contain_text('"first_name": "Ann"')
    expect(output).to_contain_text('"mailing_city": "Gent"')
    expect(output).to_contain_text('"created_on": "2023-11-14T22:13:20.600Z"')
    expect(page.locator("#mapping-problems")).to_have_text("None: every rule mapped.")
    screenshot(page, "mappings-try-ok")

    try_call(page, '{"type": "identify", traits: {}}')
    expect(page.get_by_role("alert")).to_have_text(
        "Invalid JSON at line 1 column 22: Expecting property name enclosed in double quotes."
    )
    expect(page.locator("#mapping-output")).to_have_count(0)
    # What was pasted stays in the box, to be fixed rather than typed again.
    expect(page.get_by_label("Segment call")).to_have_value('{"type": "identify", traits: {}}')

    call["traits"]["createdAt"] = "next tuesday"
    del call["traits"]["account_id"]
    try_call(page, call)
    expect(page.locator("#mapping-problems li")).to_have_text(
        [
            "account_id: required, but the call has no traits.account_id",
            "created_on: traits.createdAt 'next tuesday' is not a date",
        ]
    )
    expect(output).to_contain_text('"first_name": "Ann"')  # the other rules still map
    expect(output).not_to_contain_text("created_on")
    screenshot(page, "mappings-try-problems")


def test_staff_add_a_custom_attribute_and_change_a_default(presets: None, admin_page: Page) -> None:
    page = admin_page
    open_preset(page, "CustomerSuccessBox feature usage")
    screenshot(page, "mappings-change")
    rows = page.locator("#rules-group tbody tr.form-row:not(.empty-form)")
    module = rows.filter(has=page.locator('input[value="module_id"]'))
    expect(module.locator("td.field-default input")).to_have_value("General")
    module.locator("td.field-default input").fill("Planner")

    new = rows.last
    new.locator("td.field-source_paths input").fill("properties.project_name")
    new.locator("td.field-target input").fill("project_c")
    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")

    page.get_by_role("link", name="Try it").click()
    try_call(page, segment_call("track__csb_feature_default_module"))
    output = page.locator("#mapping-output")
    expect(output).to_contain_text('"module_id": "Planner"')
    expect(output).to_contain_text('"project_c": "Q2 roadmap"')
    rules = MappingSet.objects.get(name="CustomerSuccessBox feature usage").rules
    assert rules.get(target="module_id").default == "Planner"
    assert list(rules.values_list("target", flat=True))[-1] == "project_c"  # added after the others
