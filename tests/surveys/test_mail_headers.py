"""Headers and bad data never break a batch: a message that cannot be built fails alone, texts that
would become headers are refused where staff enter them, and dispatch logs and prints ids only."""

import html
import logging
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from integrations.models import Source
from surveys.models import Invitation, Survey, SurveyTranslation
from surveys.services.dispatch import invitations_dispatch_due
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import invitation_make, person_make, survey_make
from tests.surveys.test_admin import survey_form
from tests.surveys.test_api import CHECKOUT

pytestmark = pytest.mark.django_db

LINE_BREAK = "Quick question\r\nBcc: everyone@example.com"
TEMPLATE: dict[str, Any] = dict(CHECKOUT["template"])  # type: ignore[call-overload]


def broken_name(survey: Survey) -> Invitation:
    """A name stored before trait cleaning existed: it would add a Bcc header."""
    return invitation_make(survey=survey, person=person_make(name="Ann\nBcc: x@example.com"))


def broken_subject(survey: Survey) -> Invitation:
    other = survey_make(name="Old survey", slug="old-survey", subject=LINE_BREAK)
    return invitation_make(survey=other, person=person_make())


def broken_language(survey: Survey) -> Invitation:
    other = survey_make(name="Old survey", slug="old-survey")
    SurveyTranslation.objects.create(survey=other, language="nl\nBcc: x@example.com", subject="Vraagje")
    return invitation_make(survey=other, person=person_make(language="nl\nBcc: x@example.com"))


@pytest.mark.parametrize("broken", [broken_name, broken_subject, broken_language])
def test_a_message_that_cannot_be_built_fails_alone_and_the_rest_of_the_batch_is_sent(
    smtp: SmtpRecorder, broken: Any
) -> None:
    survey = survey_make()
    first = invitation_make(survey=survey, person=person_make(email="first@example.com"))
    bad = broken(survey)
    third = invitation_make(survey=survey, person=person_make(email="third@example.com"))

    report = invitations_dispatch_due()

    assert sorted(str(m["To"]) for m in smtp.messages) == ["first@example.com", "third@example.com"]
    assert sorted(report.sent) == [first.pk, third.pk]
    bad.refresh_from_db()
    assert bad.status == Invitation.Status.FAILED
    assert bad.error.startswith("the message could not be built: ")
    assert "@" not in bad.error
    assert not any("Bcc" in str(m) or "everyone@" in str(m) for m in smtp.messages)


def test_dispatch_logs_and_prints_invitation_ids_never_addresses(
    smtp: SmtpRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    survey = survey_make()
    invitation_make(survey=survey, person=person_make(email="sent@example.com"))
    refused = invitation_make(survey=survey, person=person_make(email="refused@example.com"))
    busy = invitation_make(survey=survey, person=person_make(email="busy@example.com"))
    broken_name(survey)
    smtp.refuse.add("refused@example.com")
    smtp.defer.add("busy@example.com")
    out = StringIO()

    with caplog.at_level(logging.DEBUG):
        call_command("dispatch_due", "--once", stdout=out)

    printed = out.getvalue()
    assert "sent #" in printed
    assert f"failed #{refused.pk}" in printed
    assert f"retry later #{busy.pk}" in printed
    assert "@" not in printed
    assert "@" not in caplog.text
    assert not [e for e in Invitation.objects.values_list("error", flat=True) if "@" in e]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"template": {**TEMPLATE, "subject": LINE_BREAK}}, "template"),
        ({"template": {**TEMPLATE, "sender_name": "Acme\nBcc: x@example.com"}}, "template"),
        ({"template": {**TEMPLATE, "company_name": "Acme\r\n Ltd"}}, "template"),
        ({"default_language": "en\r\nBcc: x@example.com"}, "default_language"),
        ({"translations": [{"language": "nl\nBcc: x@example.com", "subject": "Vraagje"}]}, "translations"),
        ({"translations": [{"language": "Dutch please", "subject": "Vraagje"}]}, "translations"),
        ({"translations": [{"language": "nl", "subject": "Vraag\nje"}]}, "translations"),
    ],
)
def test_the_api_refuses_header_texts_with_line_breaks_and_languages_that_are_no_code(
    api_client: APIClient, source: Source, changes: dict[str, Any], field: str
) -> None:
    response = api_client.post("/api/surveys/", {**CHECKOUT, **changes}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert not Survey.objects.exists()


def test_the_api_takes_language_codes_with_regions_and_scripts(api_client: APIClient, source: Source) -> None:
    body = {
        **CHECKOUT,
        "default_language": "en-GB",
        "translations": [{"language": "nl-BE"}, {"language": "zh-Hant-TW"}, {"language": "es-419"}],
    }
    assert api_client.post("/api/surveys/", body, format="json").status_code == 201


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"subject": LINE_BREAK}, "without line breaks or control characters"),
        ({"sender_name": "Acme\rBcc: x@example.com"}, "without line breaks or control characters"),
        ({"translations-0-language": "nl\nBcc: x@example.com"}, "a language code such as en, nl or nl-BE"),
        ({"translations-0-subject": "Vraagje\u0007"}, "without line breaks or control characters"),
    ],
)
def test_the_admin_refuses_header_texts_with_line_breaks_and_languages_that_are_no_code(
    admin_client: Client, source: Source, changes: dict[str, str], error: str
) -> None:
    response = admin_client.post("/admin/surveys/survey/add/", survey_form(source, **changes))

    assert response.status_code == 200
    assert html.escape(error) in response.content.decode()
    assert not Survey.objects.exists()
