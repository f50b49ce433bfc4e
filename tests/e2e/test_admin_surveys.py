"""A staff user sets up a survey in the admin, previews it in two languages and asks why a customer
is (not) surveyed."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from customers.models import Person
from integrations.models import Source
from surveys.models import Survey
from tests.e2e.conftest import screenshot

QUESTION_EN = "How likely are you to recommend Acme to a friend or colleague?"
QUESTION_NL = "Hoe waarschijnlijk is het dat u Acme aanbeveelt aan een vriend?"


@pytest.fixture
def new_customer(source: Source) -> Person:
    """Signed up yesterday: a survey with a 3-day minimum delay must wait for them."""
    return Person.objects.create(
        source=source,
        user_id="u-new",
        email="new@example.com",
        created_at=timezone.now() - timedelta(days=1),
    )


def test_create_a_survey_preview_it_and_explain_who_is_surveyed(
    admin_page: Page, new_customer: Person
) -> None:
    page = admin_page
    page.locator("tr.model-survey").get_by_role("link", name="Add").click()
    expect(page.get_by_role("heading", name="Add survey")).to_be_visible()
    # The survey's parts are tabs, triggers first: a survey is useless without one.
    tabs = ["Triggers", "Texts", "Branding", "When to ask", "Translations"]
    expect(page.get_by_role("tab")).to_have_text(tabs)
    expect(page.get_by_role("tab", name="Triggers")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("group", name="Email and question")).to_be_hidden()

    page.get_by_label("Name:", exact=True).press_sequentially("Checkout NPS")
    expect(page.get_by_label("Slug:")).to_have_value("checkout-nps")

    page.get_by_role("button", name="Add another Trigger").click()
    page.locator("#id_triggers-0-source").select_option(label="Web app")
    page.locator("#id_triggers-0-call_type").select_option("track")
    page.locator("#id_triggers-0-event_name").fill("Order Completed")
    # Conditions are rows of boxes: trait, operator, value; rows are added and removed.
    conditions = page.locator("#triggers-group .hub-conditions")
    conditions.get_by_label("trait or field").first.fill("traits.plan")
    conditions.get_by_label("value").first.fill("pro")
    conditions.get_by_role("button", name="Add a condition").click()
    conditions.get_by_label("trait or field").nth(1).fill("traits.country")
    conditions.get_by_label("operator").nth(1).select_option(label="is one of")
    conditions.get_by_label("value").nth(1).fill("BE, NL")
    conditions.get_by_role("button", name="Add a condition").click()
    conditions.get_by_label("trait or field").nth(2).fill("traits.email")
    conditions.get_by_label("operator").nth(2).select_option(label="is set")
    expect(conditions.get_by_label("value").nth(2)).to_be_disabled()
    conditions.get_by_role("button", name="Remove").nth(1).click()
    expect(conditions.get_by_label("trait or field")).to_have_count(3)  # with the spare row
    screenshot(page, "surveys-triggers")

    page.get_by_role("tab", name="Texts").click()
    # A new survey starts with the standard NPS question.
    expect(page.get_by_role("group", name="Email and question").get_by_label("Question:")).to_have_value(
        "How likely are you to recommend {{ company }} to a friend or colleague?"
    )
    page.get_by_label("Company name:").fill("Acme")
    page.get_by_role("tab", name="When to ask").click()
    page.get_by_label("Min delay days:").fill("3")
    page.get_by_label("Max delay days:").fill("14")

    page.get_by_role("tab", name="Translations").click()
    page.get_by_role("button", name="Add another Survey translation").click()
    page.locator("#id_translations-0-language").fill("nl")
    page.locator("#id_translations-0-question").fill(
        "Hoe waarschijnlijk is het dat u {{ company }} aanbeveelt aan een vriend?"
    )
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    assert Survey.objects.get(slug="checkout-nps").triggers.get().conditions == [
        {"path": "traits.plan", "op": "equals", "value": "pro"},
        {"path": "traits.email", "op": "exists"},
    ]

    # Automation is switched on from the list, where every survey's switch is at hand.
    row = page.locator("#result_list tbody tr", has_text="Checkout NPS")
    expect(row.locator("td.field-trigger_list")).to_have_text("track Order Completed from Web app")
    expect(row.locator("td.field-nps")).to_have_text("-")
    row.locator("td.field-automation_enabled input").check()
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text("1 survey was changed successfully")
    assert Survey.objects.get(slug="checkout-nps").automation_enabled

    page.get_by_role("link", name="Checkout NPS").click()
    page.get_by_role("link", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview Checkout NPS")).to_be_visible()
    email = page.frame_locator("#preview-html")
    expect(email.get_by_role("heading", name=QUESTION_EN)).to_be_visible()
    expect(page.locator("#preview-text")).to_contain_text(QUESTION_EN)
    screenshot(page, "surveys-preview-en")

    page.locator("#preview-languages").get_by_role("link", name="nl").click()
    expect(email.get_by_role("heading", name=QUESTION_NL)).to_be_visible()
    expect(page.locator("#preview-text")).to_contain_text(QUESTION_NL)
    screenshot(page, "surveys-preview-nl")

    page.get_by_role("link", name="Checkout NPS").click()
    page.get_by_role("link", name="Why (not) surveyed").click()
    page.get_by_label("Person (userId or email)").fill("u-new")
    page.get_by_role("button", name="Explain").click()
    expect(page.locator("#eligibility-verdict")).to_contain_text("Eligible")
    reasons = page.locator("#eligibility-reasons li")
    expect(reasons.first).to_contain_text("min delay: created 1 day ago, eligible from")
    expect(reasons.last).to_contain_text("eligible: send at")
    screenshot(page, "surveys-why")

    Survey.objects.filter(slug="checkout-nps").update(automation_enabled=False)
    page.reload()
    expect(page.locator("#eligibility-verdict")).to_contain_text("Not eligible")
    expect(reasons).to_have_text(["automation is off for this survey"])


def test_a_mistake_in_another_tab_opens_that_tab(admin_page: Page, source: Source) -> None:
    page = admin_page
    page.goto("/admin/surveys/survey/add/")
    page.get_by_label("Name:", exact=True).press_sequentially("Renewal NPS")
    page.get_by_role("tab", name="When to ask").click()
    page.get_by_label("Min delay days:").fill("20")
    page.get_by_label("Max delay days:").fill("10")
    page.get_by_role("tab", name="Triggers").click()
    page.get_by_role("button", name="Save", exact=True).click()

    expect(page.locator(".errornote")).to_be_visible()
    expect(page.get_by_role("tab", name="When to ask")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("The minimum delay is larger than the maximum delay.")).to_be_visible()
    assert not Survey.objects.filter(name="Renewal NPS").exists()
