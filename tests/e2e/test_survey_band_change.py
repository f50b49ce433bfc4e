"""A customer changes their score to another band: the comment they gave answered the old band's
question, so the page shows it under the new question to keep or change, and it is not sent
meanwhile."""

import re

from playwright.sync_api import Page, expect

from surveys.models import Response
from tests.e2e.conftest import screenshot
from tests.e2e.test_survey_pages import survey_page  # noqa: F401  (the fixture)
from tests.surveys.factories_pages import page_invitation, page_path

EARLIER = "You wrote this for the question “What do you like most about us?”"


def test_a_comment_follows_a_change_of_band_to_be_kept_or_changed(survey_page: Page) -> None:  # noqa: F811
    page = survey_page
    base = page_path(page_invitation())

    # First answer from the email: 9, and what they like most.
    page.goto(f"{base}?score=9")
    page.get_by_label("What do you like most about us?").fill("Quick, friendly support.")
    page.get_by_role("button", name="Send").click()
    expect(page).to_have_url(re.compile(re.escape(base) + "thanks/$"))

    # A week later they click 3 in the same email: the comment comes under the detractor question.
    page.goto(f"{base}?score=3")
    expect(page).to_have_url(re.compile(re.escape(base) + "$"))
    comment = page.get_by_label("What could we do better?")
    expect(comment).to_have_value("Quick, friendly support.")
    note = page.locator("#comment-earlier")
    expect(note).to_be_visible()
    expect(note).to_contain_text(EARLIER)
    screenshot(page, "survey-band-changed")
    # Until they keep or change it, the comment is not sent (sync-back, hub events).
    response = Response.objects.get()
    assert (response.rating, response.comment_stale, response.comment_sent) == (3, True, "")

    # Back to the band the comment was written for: no note; to another band again: the note.
    page.locator("label[for=rating-10]").click()
    expect(page.get_by_label("What do you like most about us?")).to_be_visible()
    expect(note).to_be_hidden()
    page.locator("label[for=rating-4]").click()
    expect(note).to_be_visible()

    comment = page.get_by_label("What could we do better?")
    comment.fill("Support was slow this time.")
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", name="Thank you for your feedback!")).to_be_visible()
    response.refresh_from_db()
    assert (response.rating, response.comment, response.comment_band) == (
        4,
        "Support was slow this time.",
        "detractor",
    )
    assert response.comment_sent == "Support was slow this time."

    # Opened again: the comment answers the current question, so no note.
    page.goto(base)
    expect(page.get_by_label("What could we do better?")).to_have_value("Support was slow this time.")
    expect(page.locator("#comment-earlier")).to_be_hidden()
