"""Done means (issue 14, the detractor half): an enterprise customer answers 3 with "too slow" in
Chromium, from the link in their survey email; that is one Slack message (a local server stands in for
Slack), one staff email, one case and, half an hour later, one auto-reply. A staff member then works
the case in the admin (reply, close, "did we solve it?") and the customer answers the follow-up."""

import json
import re
from datetime import timedelta
from typing import Any

from django.utils import timezone
from playwright.sync_api import Page, expect
from pytest_httpserver import HTTPServer

from actions.models import AlertRule, AutoReply, Case, CaseEntry
from actions.services.autoreplies import auto_replies_send_due
from customers.models import Account, Membership, Person
from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Source
from surveys.services.dispatch import invitations_dispatch_due
from tests.e2e.conftest import admin_login, screenshot
from tests.integrations.connectors.outbound import destination_create
from tests.surveys.conftest import SmtpRecorder, smtp_server  # noqa: F401 - the SMTP fixtures
from tests.surveys.conftest import smtp as smtp
from tests.surveys.factories import invitation_make, survey_make

SLACK_PATH = "/services/T0001/B0002/e2e7f3a"


def html_links(message: Any) -> str:
    return str(message.get_body(preferencelist=("html",)).get_content())


def test_an_enterprise_detractor_is_alerted_replied_to_and_followed_up(
    page: Page,
    live_server: Any,
    source: Source,
    smtp: SmtpRecorder,
    httpserver: HTTPServer,
    admin_credentials: tuple[str, str],
    settings: Any,
) -> None:
    settings.HUB_BASE_URL = live_server.url
    httpserver.expect_request(SLACK_PATH, method="POST").respond_with_data("ok")
    slack = destination_create(
        "slack",
        name="CS channel",
        settings={"base_url": httpserver.url_for("/").rstrip("/")},
        secrets={"webhook_url": httpserver.url_for(SLACK_PATH)},
        call_types=[],
    )
    team = destination_create(
        "staff_email", name="CS team", settings={"to": ["cs@acme.example"]}, secrets={}, call_types=[]
    )
    rule = AlertRule.objects.create(
        name="Enterprise detractors",
        bands=["detractor"],
        comment_contains="slow",
        conditions=[{"path": "account.traits.plan", "op": "equals", "value": "enterprise"}],
    )
    rule.destinations.set([slack, team])
    AutoReply.objects.create(
        name="Detractors",
        band="detractor",
        subject="We are on it, {first_name}",
        body="Someone will call you today.",
    )
    survey = survey_make(tags=[])
    ann = Person.objects.create(
        source=source, user_id="ann-1", email="ann@example.com", first_name="Ann", name="Ann Smith"
    )
    account = Account.objects.create(
        source=source, group_id="acme", name="Acme Corp", traits={"plan": "enterprise"}
    )
    Membership.objects.create(person=ann, account=account)
    invitation = invitation_make(survey=survey, person=ann)
    assert invitations_dispatch_due().sent == [invitation.pk]
    score_3 = re.findall(r'href="([^"]*\?score=3)"', html_links(smtp.messages[0]))[0].replace("&amp;", "&")

    # The customer clicks 3 in the email and says why.
    page.goto(score_3)
    page.get_by_label("What could we do better?").fill("The app is too slow")
    page.get_by_role("button", name="Send").click()
    expect(page.get_by_role("heading", name="Thank you for your feedback!")).to_be_visible()
    deliveries_deliver_due()

    [slack_call] = [request for request, _ in httpserver.log if request.path == SLACK_PATH]
    message = json.loads(slack_call.get_data())
    assert message["text"] == "Detractor 3/10 on onboarding (rule: Enterprise detractors)"
    assert "The app is too slow" in json.dumps(message["blocks"])
    staff = [m for m in smtp.messages if m["To"] == "cs@acme.example"]
    assert len(staff) == 1
    case = Case.objects.get()
    assert f"/admin/actions/case/{case.pk}/change/" in staff[0].get_content()
    assert auto_replies_send_due(now=timezone.now() + timedelta(minutes=31)).sent != []
    replies = [m for m in smtp.messages if m["Subject"] == "We are on it, Ann"]
    assert len(replies) == 1

    # A staff member works the case: replies to Ann, closes it and asks whether it is solved.
    admin_login(page, admin_credentials)
    page.get_by_role("link", name="Cases").click()
    expect(page.locator("#result_list")).to_contain_text("The app is too slow")
    page.get_by_role("link", name=str(case)).click()
    page.get_by_label("Reply to the customer:").fill("Sorry, Ann: the slowness is fixed.")
    page.get_by_label("Status:").select_option(label="closed")
    page.get_by_label("Ask “did we solve it?” when closing").check()
    screenshot(page, "case-work")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messagelist")).to_contain_text(
        "reply sent to the customer, 'did we solve it?' sent"
    )

    to_ann = [m for m in smtp.messages if m["To"] == "Ann Smith <ann@example.com>"]
    assert [m["Subject"] for m in to_ann] == [
        "How likely are you to recommend Acme?",
        "We are on it, Ann",
        "Re: How likely are you to recommend Acme?",
        "Did we solve it?",
    ]
    [followup_link] = re.findall(r"http://\S+/c/\S+/", to_ann[-1].get_content())

    # Ann answers the follow-up from her email.
    page.goto(followup_link)
    page.get_by_role("button", name="Yes, it is solved").click()
    expect(page.get_by_role("heading", name="Thank you for telling us")).to_be_visible()

    case.refresh_from_db()
    assert (case.status, case.solved) == (Case.Status.CLOSED, True)
    assert [e.kind for e in case.entries.all()] == [
        CaseEntry.Kind.OPENED,
        CaseEntry.Kind.STATUS,
        CaseEntry.Kind.REPLY,
        CaseEntry.Kind.FOLLOWUP_SENT,
        CaseEntry.Kind.FOLLOWUP_ANSWER,
    ]
    assert len([r for r, _ in httpserver.log if r.path == SLACK_PATH]) == 1  # still one alert
