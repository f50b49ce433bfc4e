"""A staff user configures a Segment source in the admin: add it, read its write key, rotate keys."""

import re

from playwright.sync_api import Page, expect

from integrations.models import Source, WriteKey
from tests.e2e.conftest import screenshot


def test_add_source_lists_it_with_its_write_key_masked(admin_page: Page) -> None:
    page = admin_page
    page.get_by_role("link", name="Sources").click()
    page.get_by_role("link", name="Add source").click()

    # The model's help texts are there to guide the person filling in the form.
    expect(page.locator("#id_name_helptext")).to_have_text(str(Source._meta.get_field("name").help_text))
    expect(page.locator("#id_slug_helptext")).to_have_text(str(Source._meta.get_field("slug").help_text))

    page.get_by_label("Name").press_sequentially("Production web app")
    expect(page.get_by_label("Slug")).to_have_value("production-web-app")  # prepopulated from the name
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    expect(page.locator(".messagelist")).to_contain_text("A write key was generated")
    key = WriteKey.objects.get()
    row = page.locator("#result_list tbody tr", has_text="Production web app")
    expect(row).to_have_count(1)
    expect(row.locator("td.field-slug")).to_have_text("production-web-app")
    expect(row.locator("td.field-keys")).to_have_text(f"{key.key[:4]}…{key.key[-4:]}")
    # Never the key itself, anywhere on the list page (cells, titles, hidden inputs).
    assert key.key not in page.content()


def test_source_page_reveals_and_copies_the_key_and_generates_another(
    admin_page: Page, source_with_key: tuple[Source, str]
) -> None:
    page = admin_page
    _, clear_key = source_with_key
    stored = WriteKey.objects.get().key
    assert stored == clear_key

    page.goto("/admin/integrations/source/")
    page.get_by_role("link", name="Web app").click()
    expect(page.get_by_role("heading", name="Change source")).to_be_visible()

    secret = page.get_by_label("write key", exact=True)
    expect(secret).to_have_attribute("type", "password")  # shown as dots until asked for
    help_icon = page.locator("#write_keys-group th", has_text="Write key").locator("img.help-tooltip")
    expect(help_icon).to_have_attribute("title", str(WriteKey._meta.get_field("key").help_text))

    page.get_by_role("button", name="Show").click()
    expect(secret).to_have_attribute("type", "text")
    expect(secret).to_have_value(stored)
    expect(page.get_by_role("button", name="Hide")).to_be_visible()

    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == stored
    # The keys table fits the page: no sideways scrolling to reach "Delete?".
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "source-page")

    # Rotation: the changelist action adds a second key next to the first.
    page.goto("/admin/integrations/source/")
    row = page.locator("#result_list tbody tr", has_text="Web app")
    row.locator("input.action-select").check()
    page.locator("select[name=action]").select_option(label="Generate a new write key")
    page.get_by_role("button", name="Go").click()
    expect(page.locator(".messagelist")).to_contain_text("Generated a new write key for 1 source(s).")
    keys = list(WriteKey.objects.order_by("created_at", "pk"))
    assert len(keys) == 2
    expect(row.locator("td.field-keys")).to_have_text(", ".join(k.hint for k in keys))
    html = page.content()
    assert all(k.key not in html for k in keys)

    page.get_by_role("link", name="Web app").click()
    expect(page.locator("#write_keys-group .hub-secret-value")).to_have_count(2)
    expect(page.locator("#write_keys-group")).to_contain_text(keys[1].hint)
    assert re.fullmatch(r".{4}….{4}", keys[1].hint)
