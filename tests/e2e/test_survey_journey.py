"""The whole journey, every part real: a Segment identify arrives over HTTP, the survey's trigger
schedules an invitation, dispatch emails it through an SMTP server, a mail scanner opens every link
(answering nothing), the customer clicks a score link from that email in Chromium, answers the
follow-up and a tag, and the response is stored."""

import re
from typing import Any

import requests
from playwright.sync_api import Page, expect

from integrations.models import Source
from surveys.models import Invitation, Response, Survey, Trigger
from surveys.services.dispatch import invitations_dispatch_due
from tests.surveys.conftest import SmtpRecorder, smtp_server  # noqa: F401 - the SMTP fixtures
from tests.surveys.conftest import smtp as smtp


def test_identify_to_email_to_answer_in_the_browser(
    page: Page,
    live_server: Any,
    source_with_key: tuple[Source, str],
    smtp: SmtpRecorder,
    settings: Any,
) -> None:
    source, key = source_with_key
    settings.HUB_BASE_URL = live_server.url
    survey = Survey.objects.create(
        name="Onboarding NPS",
        slug="onboarding",
        automation_enabled=True,
        company_name="Acme",
        tags=["Support", "Price"],
    )
    Trigger.objects.create(survey=survey, source=source, call_type="identify")

    sent = requests.post(
        f"{live_server.url}/v1/identify",
        json={"userId": "ann-1", "traits": {"email": "ann@example.com", "firstName": "Ann"}},
        auth=(key, ""),
        timeout=10,
    )
    assert sent.status_code == 200
    invitation = Invitation.objects.get(person__user_id="ann-1")  # processed on commit, scheduled now

    report = invitations_dispatch_due()

    assert report.sent == [invitation.pk]
    [message] = smtp.messages
    assert message["To"] == "Ann <ann@example.com>"
    html = message.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    links = {score: url for url, score in re.findall(r'href="([^"]*\?score=(\d+))"', html)}
    assert sorted(links, key=int) == [str(n) for n in range(11)]

    links = {score: url.replace("&amp;", "&") for score, url in links.items()}

    # The recipient's mail security scanner opens every link of the message first: it answers nothing.
    for url in links.values():
        assert requests.get(url, timeout=10).status_code == 200
    assert not Response.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT

    page.goto(links["9"])

    expect(page.get_by_role("heading", name="How likely are you to recommend Acme")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/s/[^/?]+/$"))  # the one click sent the score by itself
    assert Response.objects.get().rating == 9
    page.get_by_label("What do you like most about us?").fill("The onboarding call.")
    page.get_by_role("group", name="Support").get_by_role("radio", name="5").check(force=True)
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Thank you for your feedback!")).to_be_visible()

    response = Response.objects.get()
    assert (response.rating, response.comment, response.tag_ratings) == (
        9,
        "The onboarding call.",
        {"Support": 5},
    )
    assert response.person is not None
    assert response.person.user_id == "ann-1"
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.RESPONDED
