"""A customer answers a survey from the email's links in a real browser: score, follow-up, tags
(with the keyboard), thanks; on a phone; without JavaScript; and unsubscribing. Mail scanners that
open every link answer nothing."""

import re
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect
from pytest_httpserver import HTTPServer

from customers.models import Suppression
from surveys.models import Invitation, Response
from tests.e2e.conftest import screenshot
from tests.integrations.delivery.conftest import destination_create
from tests.surveys.factories_pages import page_invitation, page_path

LOGO = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="64" viewBox="0 0 240 64">'
    '<rect width="64" height="64" rx="14" fill="#0b7a53"/>'
    '<text x="80" y="44" font-family="sans-serif" font-size="34" font-weight="700" fill="#0b3d2b">Acme</text>'
    "</svg>"
)


def _serve_logo(context: BrowserContext) -> None:
    """The survey's logo lives on a CDN; the browser gets it from here instead of the internet."""

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, content_type="image/svg+xml", body=LOGO)

    context.route("https://cdn.example.com/**", fulfil)


@pytest.fixture
def survey_page(context: BrowserContext, transactional_db: None) -> Page:
    _serve_logo(context)
    return context.new_page()


@pytest.fixture
def phone(browser: Browser, live_server: Any, transactional_db: None) -> Iterator[Page]:
    context = browser.new_context(
        base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    context.set_default_timeout(5_000)
    _serve_logo(context)
    yield context.new_page()
    context.close()


def test_a_customer_answers_from_the_email_link_using_the_keyboard(survey_page: Page) -> None:
    page = survey_page
    invitation = page_invitation()
    base = page_path(invitation)

    page.goto(f"{base}?score=3")

    # respond.js sent the link's score by itself: recorded, and ?score is gone from the address.
    expect(page).to_have_url(re.compile(re.escape(base) + "$"))
    expect(page.get_by_role("heading", name="How likely are you to recommend Acme")).to_be_visible()
    expect(page.get_by_role("img", name="Acme")).to_be_visible()
    expect(page.get_by_label("What could we do better?")).to_be_visible()  # the detractor question
    expect(page.get_by_role("radio", name="3", exact=True).first).to_be_checked()
    assert Response.objects.get().rating == 3
    screenshot(page, "survey-followup-desktop")

    # Change the score with the arrow keys: the follow-up question follows the new band.
    page.locator("#rating-3").focus()
    for _ in range(6):
        page.keyboard.press("ArrowRight")
    expect(page.locator("#rating-9")).to_be_checked()
    comment = page.get_by_label("What do you like most about us?")
    expect(comment).to_be_visible()

    comment.fill("Quick, friendly support.")
    # Into the "Support" rating with Tab, then to 4 with the arrow keys; focus stays visible.
    page.keyboard.press("Tab")
    support = page.get_by_role("group", name="Support")
    expect(support.get_by_role("radio", name="1")).to_be_focused()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    expect(support.get_by_role("radio", name="4")).to_be_checked()
    focused_label = page.locator("label[for=tag_0-4]")
    assert focused_label.evaluate("el => getComputedStyle(el).outlineStyle") == "solid"
    screenshot(page, "survey-keyboard-focus")

    page.keyboard.press("Tab")  # the "Price" rating, left unrated
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Send")).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_role("heading", name="Thank you for your feedback!")).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(base) + "thanks/$"))
    screenshot(page, "survey-thanks")
    response = Response.objects.get()
    assert (response.rating, response.comment, response.tag_ratings) == (
        9,
        "Quick, friendly support.",
        {"Support": 4},
    )
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.RESPONDED


def test_on_a_phone_the_scores_fit_without_sideways_scrolling(phone: Page) -> None:
    page = phone
    invitation = page_invitation()

    page.goto(f"{page_path(invitation)}?score=8")

    expect(page.get_by_label("What would make you more enthusiastic about us?")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    for score in range(11):
        label = page.locator(f"label[for=rating-{score}]")
        expect(label).to_be_in_viewport()
        box = label.bounding_box()
        assert box is not None
        assert box["x"] >= 0
        assert box["x"] + box["width"] <= 390
        assert box["height"] >= 40  # big enough for a finger
    screenshot(page, "survey-followup-phone")

    page.locator("label[for=rating-10]").tap()
    expect(page.locator("#rating-10")).to_be_checked()
    page.get_by_role("button", name="Send").tap()
    expect(page.get_by_role("heading", name="Thank you for your feedback!")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    screenshot(page, "survey-thanks-phone")
    assert Response.objects.get().rating == 10


def test_friendly_pages_for_bad_links_then_unsubscribing_from_the_footer(phone: Page) -> None:
    page = phone
    invitation = page_invitation()

    answer = page.goto("/s/not-a-real-link/")
    assert answer is not None
    assert answer.status == 404
    expect(page.get_by_role("heading", name="This link does not work")).to_be_visible()
    screenshot(page, "survey-bad-link-phone")

    page.goto(f"{page_path(invitation)}?score=99")
    expect(page.get_by_role("heading", name="Please pick a score from 0 to 10")).to_be_visible()
    screenshot(page, "survey-error-phone")
    page.get_by_role("link", name="Choose your score").click()
    expect(page.get_by_role("radio", name="0", exact=True)).to_be_visible()
    screenshot(page, "survey-no-score-phone")

    page.get_by_role("link", name="Unsubscribe from these surveys").click()
    expect(page.get_by_role("heading", name="Unsubscribe from surveys?")).to_be_visible()
    screenshot(page, "survey-unsubscribe-phone")
    page.get_by_role("button", name="Unsubscribe").click()

    expect(page.get_by_role("heading", name="You are unsubscribed")).to_be_visible()
    screenshot(page, "survey-unsubscribed-phone")
    assert Suppression.objects.filter(reason="unsubscribed").count() == 2


# --- one click is a person's, not a mail scanner's -----------------------------------------------------


def _hub_events(httpserver: HTTPServer) -> list[tuple[str, int]]:
    return [(b["type"], b["data"]["rating"]) for b in (orjson.loads(r.get_data()) for r, _ in httpserver.log)]


@pytest.fixture
def response_hook(httpserver: HTTPServer, transactional_db: None) -> HTTPServer:
    """A webhook destination subscribed to the hub's response events, at a real local server."""
    httpserver.expect_request("/hooks/responses", method="POST").respond_with_data("ok")
    destination_create(httpserver.url_for("/hooks/responses"))
    return httpserver


def test_a_link_scanner_answers_nothing_and_the_person_s_one_click_records_exactly_that_score(
    survey_page: Page, live_server: Any, response_hook: HTTPServer
) -> None:
    page = survey_page
    invitation = page_invitation()
    base = page_path(invitation)

    # Safe Links and its kind: every link of the message, in a row, no cookies, no JavaScript.
    for score in range(11):
        for fetch in (requests.head, requests.get):
            fetched = fetch(f"{live_server.url}{base}?score={score}", timeout=10, allow_redirects=True)
            assert fetched.status_code == 200
    assert Response.objects.count() == 0
    assert Invitation.objects.get().status == Invitation.Status.SENT
    assert response_hook.log == []

    page.goto(f"{base}?score=9")  # the person clicks 9 in the email

    expect(page.get_by_label("What do you like most about us?")).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(base) + "$"))
    expect(page.locator("#rating-9")).to_be_checked()
    assert Response.objects.get().rating == 9
    assert Invitation.objects.get().status == Invitation.Status.RESPONDED
    assert _hub_events(response_hook) == [("response.created", 9)]


def test_without_javascript_one_more_click_on_confirm_records_the_score(
    browser: Browser, live_server: Any, response_hook: HTTPServer
) -> None:
    context = browser.new_context(
        base_url=live_server.url,
        java_script_enabled=False,
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(5_000)
    _serve_logo(context)
    page = context.new_page()
    invitation = page_invitation()
    base = page_path(invitation)

    page.goto(f"{base}?score=4")

    expect(page.locator("#rating-4")).to_be_checked()
    expect(page.get_by_text("Your score is not sent yet. Please confirm it.")).to_be_visible()
    confirm = page.get_by_role("button", name="Confirm my score")
    expect(confirm).to_be_in_viewport()
    box = confirm.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 390
    assert box["height"] >= 40  # big enough for a finger
    assert confirm.evaluate("el => parseFloat(getComputedStyle(el).fontSize)") >= 16
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    screenshot(page, "survey-confirm-without-javascript-phone")
    assert Response.objects.count() == 0  # opening the link sent nothing

    page.locator("#rating-4").focus()  # from the score, the keyboard reaches the button
    page.keyboard.press("Tab")
    expect(confirm).to_be_focused()
    page.keyboard.press("Enter")

    expect(page.get_by_label("What could we do better?")).to_be_visible()
    expect(page).to_have_url(re.compile(re.escape(base) + "$"))
    assert Response.objects.get().rating == 4
    assert Invitation.objects.get().status == Invitation.Status.RESPONDED
    assert _hub_events(response_hook) == [("response.created", 4)]
    context.close()


def test_going_back_to_the_email_link_does_not_send_its_score_again(survey_page: Page) -> None:
    page = survey_page
    base = page_path(page_invitation())
    page.goto(f"{base}?score=3")
    expect(page.get_by_label("What could we do better?")).to_be_visible()

    page.locator("label[for=rating-10]").click()
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Thank you for your feedback!")).to_be_visible()
    page.go_back()  # the email link's page, in the browser's history

    expect(page).to_have_url(re.compile(re.escape(base) + "$"))
    expect(page.locator("#rating-10")).to_be_checked()
    expect(page.get_by_text("your score is saved")).to_be_visible()
    assert Response.objects.get().rating == 10
