"""Surveys in the admin: the list with its figures, the form's checks, preview, test email,
"why (not) surveyed", and the invitations and responses consoles."""

import html
import re
import sys
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers.models import Person
from integrations.models import Source
from surveys.models import Invitation, Response, Survey, SurveyPolicy, SurveyTranslation, Trigger

pytestmark = pytest.mark.django_db

QUESTION = "How likely are you to recommend {{ company }} to a friend or colleague?"


def survey_make(name: str = "Onboarding NPS", **fields: Any) -> Survey:
    fields = {"slug": re.sub(r"\W+", "-", name.lower()), "company_name": "Acme", **fields}
    return Survey.objects.create(name=name, question=QUESTION, **fields)


def person_make(source: Source, user_id: str, **fields: Any) -> Person:
    fields = {"email": f"{user_id}@example.com", "first_name": "Ann", **fields}
    return Person.objects.create(source=source, user_id=user_id, **fields)


def invitation_make(survey: Survey, person: Person, status: str = "sent", **fields: Any) -> Invitation:
    now = timezone.now()
    sent_at = now if status in ("sent", "responded") else None
    fields = {"due_at": now, "sent_at": sent_at, **fields}
    return Invitation.objects.create(survey=survey, person=person, status=status, **fields)


def answers_make(survey: Survey, source: Source, *ratings: int) -> None:
    for n, rating in enumerate(ratings):
        invitation = invitation_make(survey, person_make(source, f"{survey.slug}-{n}"), status="responded")
        Response.objects.create(invitation=invitation, survey=survey, person=invitation.person, rating=rating)


def row(page: str, name: str) -> str:
    match = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{re.escape(name)}.*?</tr>", page, re.S)
    assert match, f"no row for {name}"
    return match.group(0)


def cell(row_html: str, field: str) -> str:
    match = re.search(rf'class="field-{field}[^"]*">(.*?)</t[dh]>', row_html, re.S)
    assert match, f"no {field} column"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def test_the_list_shows_automation_triggers_and_figures_in_one_query(
    admin_client: Client, source: Source
) -> None:
    onboarding = survey_make(automation_enabled=True)
    Trigger.objects.create(survey=onboarding, source=source, call_type="track", event_name="Order Completed")
    answers_make(onboarding, source, 10, 9, 7, 3)  # 2 promoters, 1 detractor of 4: NPS +25
    invitation_make(onboarding, person_make(source, "waiting"), status="scheduled")
    survey_make("Quiet survey")

    with CaptureQueriesContext(connection) as two_surveys:
        page = admin_client.get("/admin/surveys/survey/").content.decode()
    for n in range(3):
        answers_make(survey_make(f"Extra {n}"), source, 0, 10)
    with CaptureQueriesContext(connection) as five_surveys:
        admin_client.get("/admin/surveys/survey/")

    onboarding_row = row(page, "Onboarding NPS")
    # Editable in the list.
    assert re.search(
        r'<input type="checkbox" name="form-\d+-automation_enabled"[^>]* checked', onboarding_row
    )
    assert cell(onboarding_row, "trigger_list") == "track Order Completed from Web app"
    assert cell(onboarding_row, "sent") == "4"  # the scheduled one is not sent yet
    assert cell(onboarding_row, "responses") == "4"
    assert cell(onboarding_row, "nps") == "+25"
    quiet_row = row(page, "Quiet survey")
    assert (cell(quiet_row, "responses"), cell(quiet_row, "nps")) == ("0", "-")
    assert len(five_surveys.captured_queries) == len(two_surveys.captured_queries)


def condition_rows(*rows: tuple[str, str, str], trigger: int = 0) -> dict[str, str]:
    """A trigger's condition rows (trait or field, operator, value) as the form posts them."""
    prefix = f"triggers-{trigger}-conditions"
    data = {f"{prefix}-rows": str(len(rows))}
    for index, (path, op, value) in enumerate(rows):
        data |= {f"{prefix}-{index}-path": path, f"{prefix}-{index}-op": op, f"{prefix}-{index}-value": value}
    return data


def survey_form(source: Source, **changes: Any) -> dict[str, Any]:
    """The add form as a person fills it in: one trigger, one Dutch translation."""
    data = {
        "name": "Checkout NPS",
        "slug": "checkout-nps",
        "automation_enabled": "on",
        "default_language": "en",
        "company_name": "Acme",
        "subject": "Quick question",
        "question": QUESTION,
        "tags": "Support, Price",
        "tag_scale": "5",
        "accent_color": "#2f6fed",
        "min_delay_days": "3",
        "max_delay_days": "14",
        "resurvey_interval_days": "182",
        "token_expiry_days": "30",
        "send_window_days": ["0", "2"],
        "send_window_start": "09:00",
        "send_window_end": "17:00",
        "send_window_timezone": "UTC",
        "triggers-TOTAL_FORMS": "1",
        "triggers-INITIAL_FORMS": "0",
        "triggers-0-source": str(source.pk),
        "triggers-0-call_type": "track",
        "triggers-0-event_name": "Order Completed",
        **condition_rows(("traits.plan", "equals", "pro")),
        "triggers-0-enabled": "on",
        "translations-TOTAL_FORMS": "1",
        "translations-INITIAL_FORMS": "0",
        "translations-0-language": "nl",
        "translations-0-question": "Hoe waarschijnlijk is het dat u {{ company }} aanbeveelt?",
    }
    return {**data, **changes}


def test_a_survey_is_created_with_trigger_translation_tags_and_weekdays(
    admin_client: Client, source: Source
) -> None:
    response = admin_client.post("/admin/surveys/survey/add/", survey_form(source))

    assert response.status_code == 302, response.content.decode()[:3000]
    survey = Survey.objects.get(slug="checkout-nps")
    assert survey.automation_enabled
    assert survey.tags == ["Support", "Price"]
    assert survey.send_window_days == [0, 2]
    [trigger] = survey.triggers.all()
    assert (trigger.call_type, trigger.event_name, trigger.conditions[0]["value"]) == (
        "track",
        "Order Completed",
        "pro",
    )
    assert survey.translations.get().language == "nl"


def test_the_add_form_starts_with_the_standard_nps_wording(admin_client: Client) -> None:
    page = admin_client.get("/admin/surveys/survey/add/").content.decode()
    assert html.escape(QUESTION) in page


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        (condition_rows(("traits.plan", "like", "pro")), "op must be one of"),
        ({"min_delay_days": "20"}, "The minimum delay is larger than the maximum delay."),
    ],
)
def test_the_form_refuses_bad_conditions_and_delays(
    admin_client: Client, source: Source, changes: dict[str, str], error: str
) -> None:
    response = admin_client.post("/admin/surveys/survey/add/", survey_form(source, **changes))

    assert response.status_code == 200
    assert html.escape(error) in response.content.decode()
    assert not Survey.objects.exists()


def test_an_emptied_condition_row_means_no_condition(admin_client: Client, source: Source) -> None:
    response = admin_client.post(
        "/admin/surveys/survey/add/", survey_form(source, **condition_rows(("", "equals", "pro")))
    )

    assert response.status_code == 302
    assert Trigger.objects.get().conditions == []


def test_condition_rows_keep_numbers_true_false_quoted_text_and_lists(
    admin_client: Client, source: Source
) -> None:
    rows = condition_rows(
        ("traits.seats", "equals", "10"),
        ("traits.beta", "equals", "true"),
        ("traits.code", "equals", '"42"'),
        ("traits.country", "in", 'BE, NL, "Bonaire, Sint Eustatius"'),
        ("traits.email", "exists", ""),
        ("traits.seats", "at_least", "5"),
    )

    response = admin_client.post("/admin/surveys/survey/add/", survey_form(source, **rows))

    assert response.status_code == 302, response.content.decode()[:2000]
    trigger = Trigger.objects.get()
    assert trigger.conditions == [
        {"path": "traits.seats", "op": "equals", "value": 10},
        {"path": "traits.beta", "op": "equals", "value": True},
        {"path": "traits.code", "op": "equals", "value": "42"},
        {"path": "traits.country", "op": "in", "value": ["BE", "NL", "Bonaire, Sint Eustatius"]},
        {"path": "traits.email", "op": "exists"},
        {"path": "traits.seats", "op": "at_least", "value": 5},
    ]
    # Shown again as typed, one row each, with a spare empty row to add another.
    page = admin_client.get(f"/admin/surveys/survey/{trigger.survey_id}/change/").content.decode()
    for index, shown in enumerate(["10", "true", '"42"', 'BE, NL, "Bonaire, Sint Eustatius"', "", "5"]):
        assert f'name="triggers-0-conditions-{index}-value" value="{html.escape(shown)}"' in page
    assert 'name="triggers-0-conditions-6-path" value=""' in page
    assert '<option value="at_least" selected>is at least</option>' in page
    assert '<textarea name="triggers-0-conditions"' not in page  # no JSON box


def srcdoc(page: str) -> str:
    match = re.search(r'<iframe[^>]*id="preview-html"[^>]*srcdoc="([^"]*)"', page)
    assert match, "no HTML email frame"
    return html.unescape(match.group(1))


def test_preview_shows_the_email_in_each_language_and_links_the_response_page(admin_client: Client) -> None:
    survey = survey_make()
    SurveyTranslation.objects.create(
        survey=survey, language="nl", question="Hoe waarschijnlijk is het dat u {{ company }} aanbeveelt?"
    )

    english = admin_client.get(f"/admin/surveys/survey/{survey.pk}/preview/").content.decode()
    dutch = admin_client.get(f"/admin/surveys/survey/{survey.pk}/preview/?language=nl").content.decode()

    question = "How likely are you to recommend Acme to a friend or colleague?"
    assert question in srcdoc(english)
    assert 'sandbox=""' in english  # the email's HTML runs nothing in the admin's origin
    text = re.search(r'<pre id="preview-text">(.*?)</pre>', english, re.S)
    assert text
    assert question in html.unescape(text.group(1))
    assert "Hoe waarschijnlijk is het dat u Acme aanbeveelt?" in srcdoc(dutch)
    assert f"/admin/surveys/survey/{survey.pk}/preview/respond/?language=nl" in dutch
    assert Invitation.objects.count() == 0  # nothing saved by previewing


def test_preview_says_so_while_the_email_renderer_is_missing(
    admin_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    survey = survey_make()
    monkeypatch.setitem(sys.modules, "surveys.services.dispatch", None)  # import fails

    response = admin_client.get(f"/admin/surveys/survey/{survey.pk}/preview/")

    assert response.status_code == 200
    assert "The email renderer (surveys.services.dispatch.invitation_email) is not installed yet." in (
        response.content.decode()
    )


def test_the_response_page_preview_asks_the_promoter_follow_up(admin_client: Client) -> None:
    survey = survey_make(followup_promoter="What do you love about {{ company }}?")

    response = admin_client.get(f"/admin/surveys/survey/{survey.pk}/preview/respond/")

    assert response.status_code == 200
    assert response["X-Frame-Options"] == "SAMEORIGIN"  # shown in the preview page's frame
    assert "What do you love about Acme?" in response.content.decode()


def test_send_test_emails_the_preview_to_the_staff_user(admin_client: Client, admin_user: Any) -> None:
    survey = survey_make(subject="Quick question")
    SurveyTranslation.objects.create(survey=survey, language="nl", subject="Korte vraag")

    response = admin_client.post(
        f"/admin/surveys/survey/{survey.pk}/send-test/", {"language": "nl"}, follow=True
    )

    [message] = mail.outbox
    assert message.to == [admin_user.email]
    assert message.subject == "[Test] Korte vraag"
    assert f"Sent a test of Onboarding NPS (nl) to {admin_user.email}." in response.content.decode()


def test_send_test_says_so_when_the_staff_user_has_no_email(admin_client: Client, admin_user: Any) -> None:
    admin_user.email = ""
    admin_user.save()
    survey = survey_make()

    response = admin_client.post(
        "/admin/surveys/survey/",
        {"action": "send_test_to_me", "_selected_action": [survey.pk]},
        follow=True,
    )

    assert mail.outbox == []
    assert "Your user has no email address" in response.content.decode()


def test_why_not_surveyed_explains_the_min_delay(admin_client: Client, source: Source) -> None:
    survey = survey_make(automation_enabled=True, min_delay_days=3, max_delay_days=14)
    person_make(source, "u-new", created_at=timezone.now() - timedelta(days=1))

    page = admin_client.get(
        f"/admin/surveys/survey/{survey.pk}/eligibility/?q=U-NEW@example.com"
    ).content.decode()

    reasons = re.search(r'<ul id="eligibility-reasons">(.*?)</ul>', page, re.S)
    assert reasons
    assert "min delay: created 1 day ago, eligible from" in reasons.group(1)
    assert "<strong>Eligible</strong>" in page  # eligible, later: it would be sent in two days
    assert "would be sent at" in page


def test_why_not_surveyed_for_an_unknown_person_and_a_blocked_one(
    admin_client: Client, source: Source
) -> None:
    survey = survey_make(automation_enabled=False)
    person = person_make(source, "u-1")
    url = f"/admin/surveys/survey/{survey.pk}/eligibility/"

    assert "No person with that userId or email." in admin_client.get(f"{url}?q=nobody").content.decode()
    page = admin_client.get(f"{url}?person={person.pk}").content.decode()
    assert "<strong>Not eligible</strong>" in page
    assert "automation is off for this survey" in page


@pytest.mark.parametrize("person_id", ["²", "9" * 25, "-1", "abc"])
def test_why_not_surveyed_for_a_person_id_that_is_no_id_finds_no_one(
    admin_client: Client, person_id: str
) -> None:
    survey = survey_make()

    response = admin_client.get(f"/admin/surveys/survey/{survey.pk}/eligibility/", {"person": person_id})

    assert response.status_code == 200
    assert "No person with that userId or email." in response.content.decode()


def test_the_survey_page_links_preview_and_why_not_surveyed(admin_client: Client) -> None:
    survey = survey_make()
    page = admin_client.get(f"/admin/surveys/survey/{survey.pk}/change/").content.decode()
    assert f'href="/admin/surveys/survey/{survey.pk}/preview/"' in page
    assert f'href="/admin/surveys/survey/{survey.pk}/eligibility/"' in page


def test_invitations_are_listed_searchable_and_link_to_why(admin_client: Client, source: Source) -> None:
    survey = survey_make()
    ann = person_make(source, "u-ann")
    invitation_make(survey, ann, status="failed", error="550 mailbox unavailable")
    invitation_make(survey, person_make(source, "u-bob"))

    page = admin_client.get("/admin/surveys/invitation/?q=U-ANN@example.com").content.decode()

    assert "550 mailbox unavailable" in page
    assert "u-bob@example.com" not in page
    assert f"/admin/surveys/survey/{survey.pk}/eligibility/?person={ann.pk}" in page
    assert admin_client.get("/admin/surveys/invitation/add/").status_code == 403


def test_cancel_stops_scheduled_invitations_only(admin_client: Client, source: Source) -> None:
    survey = survey_make()
    scheduled = invitation_make(survey, person_make(source, "u-1"), status="scheduled")
    sent = invitation_make(survey, person_make(source, "u-2"))

    response = admin_client.post(
        "/admin/surveys/invitation/",
        {"action": "cancel", "_selected_action": [scheduled.pk, sent.pk]},
        follow=True,
    )

    scheduled.refresh_from_db()
    sent.refresh_from_db()
    assert (scheduled.status, sent.status) == ("cancelled", "sent")
    assert scheduled.error == "cancelled in the admin by admin"
    assert "1 invitation(s) were not scheduled" in response.content.decode()


def test_responses_filter_by_band(admin_client: Client, source: Source) -> None:
    survey = survey_make()
    answers_make(survey, source, 10, 3)
    Response.objects.filter(rating=3).update(comment="Too slow " * 30)

    page = admin_client.get("/admin/surveys/response/?band=detractor").content.decode()

    assert "Too slow Too slow" in page
    assert "Too slow " * 30 not in page  # an excerpt
    assert re.findall(r'class="field-band">(\w+)<', page) == ["detractor"]


def test_the_policy_is_one_row_opened_from_the_list(admin_client: Client) -> None:
    response = admin_client.get("/admin/surveys/surveypolicy/")

    policy = SurveyPolicy.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/surveys/surveypolicy/{policy.pk}/change/"
    assert admin_client.get("/admin/surveys/surveypolicy/add/").status_code == 403


def test_a_survey_that_cannot_ask_anyone_says_so_at_the_top(admin_client: Client, source: Source) -> None:
    survey = survey_make(automation_enabled=False)
    url = f"/admin/surveys/survey/{survey.pk}/change/"

    page = html.unescape(admin_client.get(url).content.decode())
    assert "This survey has no enabled trigger or collector, so it never asks anyone" in page
    assert "Automation is off" in page

    Trigger.objects.create(survey=survey, source=source, call_type="identify")
    survey.automation_enabled = True
    survey.save()
    page = html.unescape(admin_client.get(url).content.decode())
    assert "hub-setup-gaps" not in page


def test_the_survey_form_puts_triggers_first_and_its_parts_in_tabs(admin_client: Client) -> None:
    page = admin_client.get("/admin/surveys/survey/add/").content.decode()

    tabs = re.findall(r'<button type="button" data-tab="(\w+)">', page)
    assert tabs == ["triggers", "texts", "branding", "when", "translations"]
    # Every part carries its tab, and the triggers come before the texts.
    triggers, texts = page.index('id="triggers-group"'), page.index("Email and question")
    assert triggers < texts < page.index('id="translations-group"')
    for part in ("texts", "branding", "when"):
        assert f"hub-tab-{part}" in page
    # Without the script the tabs stay hidden and every part shows, one after another.
    assert '<nav class="hub-tabs" aria-label="Parts of the survey" hidden>' in page
