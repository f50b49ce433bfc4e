"""A staff member finds what a survey's comments talk about in the admin: the themes page with each
theme's shares by band, its change and quotes; they rename one right in the list, and find the flagged
comments."""

import re

import pytest
from playwright.sync_api import Page, expect

from insights.services.themes import themes_find
from surveys.models import Survey
from tests.e2e.conftest import screenshot
from tests.insights.corpus import topic_comments_make
from tests.surveys.factories import survey_make


@pytest.fixture
def survey(transactional_db: None) -> Survey:
    survey = survey_make(name="Checkout NPS", slug="checkout")
    topic_comments_make(survey)
    themes_find(survey=survey)
    return survey


def test_staff_see_a_surveys_themes_rename_one_and_find_flagged_comments(
    admin_page: Page, survey: Survey
) -> None:
    page = admin_page
    page.get_by_role("link", name="Themes").click()
    expect(
        page.get_by_role("heading", name=re.compile("Checkout NPS: .* change against the period before"))
    ).to_be_visible()
    billing = page.get_by_role("row").filter(has_text="charged twice")
    expect(billing).to_contain_text(re.compile(r"detractors: \d+ % \(\+\d+\.\d pts\)"))  # new this period: up
    expect(billing.locator("q")).to_have_count(2)
    screenshot(page, "admin-themes")

    billing.get_by_role("textbox").fill("Invoices")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("1 theme was changed successfully.")).to_be_visible()
    expect(page.get_by_role("row").filter(has_text="charged twice").get_by_role("textbox")).to_have_value(
        "Invoices"
    )

    page.get_by_role("link", name="Comments", exact=True).click()
    page.get_by_role("link", name="Yes").first.click()  # flagged: yes
    expect(page).to_have_url(re.compile(r"flagged__exact=1"))
    screenshot(page, "admin-comments-flagged")
