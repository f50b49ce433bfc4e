"""The README's "First survey in ten minutes", done in a browser: the dashboard's checklist, the first
call copied from it and run, a survey with a trigger, automation, a Segment sync-back destination
made from its own form. It checks that every label the walkthrough names in bold is on the pages it
visits, and with HUB_SCREENSHOTS=1 it rewrites the walkthrough's screenshots (docs/img/)."""

import os
import re
import subprocess
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from integrations.models import Destination, InboundEvent, Source
from surveys.models import Survey

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
IMAGES = ROOT / "docs" / "img"
REWRITE = os.environ.get("HUB_SCREENSHOTS") == "1"


def walkthrough() -> str:
    text = README.read_text()
    return text.split("## First survey in ten minutes", 1)[1].split("\n## ", 1)[0]


def shot(page: Page, name: str) -> None:
    if REWRITE:
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMAGES / name), full_page=False)


def test_the_walkthrough_names_three_screenshots_that_exist() -> None:
    images = re.findall(r"!\[[^\]]*\]\((docs/img/[\w-]+\.png)\)", walkthrough())

    assert len(images) == 3
    for image in images:
        assert (ROOT / image).stat().st_size > 10_000, f"{image} is missing or empty"


def test_first_survey_in_ten_minutes(admin_page: Page, live_server: Any, settings: Any) -> None:
    settings.HUB_BASE_URL = live_server.url  # the hub's own address, as make run sets it
    page = admin_page
    seen: list[str] = []

    def read() -> None:
        seen.append(page.locator("body").inner_text())

    # 1. The dashboard lists the steps, none done.
    steps = page.locator("ol.hub-steps > li")
    expect(steps).to_have_count(5)
    expect(page.locator("li.hub-step-done")).to_have_count(0)
    read()
    page.get_by_role("link", name="Create a source").click()
    page.get_by_label("Name").press_sequentially("Web app")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("A write key was generated")
    source = Source.objects.get()

    # 2. Back home, the first call carries the real key and the hub's address: copy it and run it.
    page.get_by_role("link", name="Feedback Hub").click()
    expect(page.locator('li[data-step="source"]')).to_have_class(re.compile("hub-step-done"))
    curl = page.locator("#hub-curl")
    expect(curl).to_contain_text(source.write_keys.get().key)
    expect(curl).to_contain_text(f"{live_server.url}/v1/identify")
    read()
    shot(page, "first-survey-1-dashboard.png")
    page.locator(".hub-snippet", has=curl).get_by_role("button", name="Copy").click()
    expect(page.locator(".hub-snippet", has=curl).get_by_role("button", name="Copied")).to_be_visible()
    command = page.evaluate("navigator.clipboard.readText()")
    ran = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=30, check=False)
    assert '"success":true' in ran.stdout.replace(" ", ""), ran.stdout + ran.stderr
    assert InboundEvent.objects.filter(source=source, user_id="user-1").exists()
    page.reload()
    expect(page.locator('li[data-step="call"]')).to_have_class(re.compile("hub-step-done"))

    # 3. A survey: its triggers come first.
    page.get_by_role("link", name="Create a survey").click()
    page.get_by_label("Name:", exact=True).press_sequentially("Onboarding NPS")
    page.get_by_role("button", name="Add another Trigger").click()
    page.locator("#id_triggers-0-source").select_option(label="Web app")
    page.locator("#id_triggers-0-call_type").select_option("identify")
    conditions = page.locator("#triggers-group .hub-conditions")
    conditions.get_by_label("trait or field").first.fill("traits.email")
    conditions.get_by_label("operator").first.select_option(label="is set")
    read()
    shot(page, "first-survey-2-triggers.png")
    page.get_by_role("tab", name="Texts").click()
    page.get_by_label("Company name:").fill("Acme")
    read()
    page.get_by_role("tab", name="When to ask").click()
    read()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")

    # 4. Automation, from the list of surveys.
    page.locator("#result_list tbody tr", has_text="Onboarding NPS").locator(
        "td.field-automation_enabled input"
    ).check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("1 survey was changed successfully")
    read()
    assert Survey.objects.get().automation_enabled

    # 5. The Segment sync-back: the kind first, then its own form.
    page.get_by_role("link", name="Feedback Hub").click()
    page.get_by_role("link", name="Connect Segment sync-back").click()
    read()
    page.get_by_role("link", name="Segment (daily NPS sync-back)").click()
    page.get_by_label("Name:").fill("Segment")
    page.get_by_label("Source:").select_option(label="Web app")
    page.get_by_label("api host").fill(f"{live_server.url}")
    page.get_by_label("write key").fill("local-segment-write-key")
    read()
    shot(page, "first-survey-3-segment.png")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    segment = Destination.objects.get()
    assert (segment.kind, segment.settings) == ("segment", {"api_host": live_server.url})

    # All done: the checklist gives way to the figures.
    page.get_by_role("link", name="Feedback Hub").click()
    expect(page.locator(".hub-onboarding")).to_have_count(0)
    expect(page.locator(".hub-figures")).to_contain_text("1 call today")
    read()

    text = " ".join(seen)
    named = re.findall(r"\*\*([^*]+)\*\*", walkthrough())
    assert named, "the walkthrough names the labels to look for in bold"
    missing = [label for label in named if label not in text]
    assert missing == [], f"the README names what the pages do not show: {missing}"
