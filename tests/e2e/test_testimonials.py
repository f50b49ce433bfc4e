"""A promoter's quote, end to end in Chromium: the promoter answers from the email's link and agrees to
be quoted on the thank-you page; staff approve it in the moderation queue and copy the survey's embed
snippets; a website on ANOTHER origin (a second local HTTP server) shows the quote in the script
widget and the iframe, as text (the quote carries <script> and an onerror attribute); the promoter
withdraws through the link on the thank-you page, and the website's next page view no longer shows it."""

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from pytest_httpserver import HTTPServer

from customers.models import Account, Membership
from testimonials.models import Testimonial
from tests.e2e.conftest import admin_login, screenshot
from tests.surveys.factories_pages import page_invitation, page_path, page_person

QUOTE = (
    'Support fixed it in minutes <script>window.pwned = 1</script> "><img src=x onerror="window.pwned = 2">'
)


@pytest.fixture
def website(httpserver: HTTPServer) -> HTTPServer:
    return httpserver


def test_a_consented_quote_appears_on_another_origin_after_approval_and_is_gone_after_withdrawal(
    page: Page,
    live_server: Any,
    admin_credentials: tuple[str, str],
    website: HTTPServer,
    settings: Any,
) -> None:
    settings.HUB_BASE_URL = live_server.url
    person = page_person(first_name="Ann", last_name="Peeters")
    account = Account.objects.create(source=person.source, group_id="acme-1", name="Acme Corp")
    Membership.objects.create(person=person, account=account)
    invitation = page_invitation(person=person)
    survey_link = page_path(invitation)

    # The promoter clicks 10 in the email, answers the follow-up and agrees to be quoted.
    page.goto(f"{survey_link}?score=10")
    page.get_by_label("What do you like most about us?").fill(QUOTE)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="May we quote you?")).to_be_visible()
    page.get_by_label("My first name and initial").check()
    expect(page.get_by_label("Company to show (optional)")).to_have_value("Acme Corp")
    page.get_by_label(re.compile("Acme may quote my answer above publicly")).check()
    page.get_by_role("button", name="Yes, you may quote me").click()
    expect(page.get_by_role("heading", name="Thank you for letting us quote you")).to_be_visible()
    thanks_url = page.url
    screenshot(page, "testimonial-consent-given")
    assert Testimonial.objects.get().status == Testimonial.Status.PENDING

    # Staff approve it in the queue and copy the embeds from the survey's page.
    admin_login(page, admin_credentials)
    page.locator("#testimonials-testimonial").get_by_role("link", name="Testimonials").click()
    row = page.get_by_role("row", name=re.compile("Support fixed it in minutes"))
    expect(row).to_contain_text("pending moderation")
    expect(row).to_contain_text("Acme Corp")
    row.get_by_role("checkbox").check()
    page.get_by_label("Action:").select_option(label="Approve: show in embeds")
    page.get_by_role("button", name="Go").click()
    expect(page.get_by_text("1 testimonial(s) approved.")).to_be_visible()
    page.goto(f"/admin/surveys/survey/{invitation.survey_id}/change/")
    script_snippet = page.get_by_label("Script embed").input_value()
    iframe_snippet = page.get_by_label("Iframe embed (for sites that block scripts)").input_value()
    assert live_server.url in script_snippet

    # A website on another origin pastes both.
    website.expect_request("/").respond_with_data(
        "<!doctype html><html><head><meta charset='utf-8'><title>Acme</title></head><body>"
        f"<h1>What our customers say</h1>{script_snippet}{iframe_snippet}</body></html>",
        content_type="text/html",
    )
    site = website.url_for("/")
    assert not site.startswith(live_server.url)
    page.goto(site)
    widget = page.locator(".feedback-hub-testimonials")
    expect(widget).to_have_attribute("data-state", "ready")
    expect(widget.locator(".fh-quote")).to_have_text(QUOTE)  # shown as text, never run
    expect(widget.locator(".fh-who")).to_have_text("Ann P., Acme Corp")
    frame = page.frame_locator("iframe")
    expect(frame.locator(".fh-quote")).to_have_text(QUOTE)
    assert page.evaluate("window.pwned") is None
    assert page.frames[1].evaluate("window.pwned") is None
    screenshot(page, "testimonial-on-another-origin")

    # The promoter withdraws through the link on their thank-you page.
    page.goto(thanks_url)
    page.get_by_role("link", name="Withdraw my consent").click()
    page.get_by_role("button", name="Withdraw my consent").click()
    expect(page.get_by_role("heading", name="Your consent is withdrawn")).to_be_visible()

    # The website's next page view shows no quote.
    page.goto(site)
    expect(widget).to_have_attribute("data-state", "ready")
    expect(widget.locator(".fh-quote")).to_have_count(0)
    expect(page.frame_locator("iframe").locator(".fh-empty")).to_have_text("No testimonials yet.")
