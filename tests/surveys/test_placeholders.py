"""Survey texts use {{ company }} and nothing else: a mistyped or unknown placeholder is a field
error naming the allowed ones, in the admin and the API, in translations too."""

import html
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from integrations.models import Source
from surveys.models import Survey
from surveys.services.content import survey_texts
from tests.surveys.test_admin import survey_form
from tests.surveys.test_api import CHECKOUT

pytestmark = pytest.mark.django_db

ALLOWED = "{{ company }}"
BROKEN = [
    ("Would you recommend {{ company }?", "not closed or not opened"),
    ("Would you recommend { company }}?", "not closed or not opened"),
    ("Would you recommend {{ unknown }}?", "Unknown placeholder {{ unknown }}"),
    ("Hi {{first_name}}, would you recommend {{ company }}?", "Unknown placeholder {{ first_name }}"),
]


@pytest.mark.parametrize(("text", "error"), BROKEN)
def test_the_admin_refuses_a_broken_placeholder_naming_the_allowed_ones(
    admin_client: Client, source: Source, text: str, error: str
) -> None:
    response = admin_client.post("/admin/surveys/survey/add/", survey_form(source, question=text))

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["question"]
    assert error in errors[0]
    assert ALLOWED in errors[0]
    assert html.escape(errors[0]) in response.content.decode()
    assert not Survey.objects.exists()


@pytest.mark.parametrize(("text", "error"), BROKEN[:3])
def test_the_admin_refuses_it_in_a_translation_too(
    admin_client: Client, source: Source, text: str, error: str
) -> None:
    form = survey_form(source, **{"translations-0-followup_promoter": text})
    response = admin_client.post("/admin/surveys/survey/add/", form)

    assert response.status_code == 200
    [translation] = response.context["inline_admin_formsets"][1].formset.errors
    assert error in translation["followup_promoter"][0]
    assert ALLOWED in translation["followup_promoter"][0]
    assert not Survey.objects.exists()


@pytest.mark.parametrize(("text", "error"), BROKEN)
def test_the_api_refuses_it_as_a_field_error(
    api_client: APIClient, source: Source, text: str, error: str
) -> None:
    template: dict[str, Any] = dict(CHECKOUT["template"])  # type: ignore[call-overload]
    body: dict[str, Any] = {**CHECKOUT, "template": {**template, "subject": text}}
    response = api_client.post("/api/surveys/", body, format="json")

    assert response.status_code == 400
    [message] = response.json()["errors"]["template"]["subject"]
    assert error in message
    assert ALLOWED in message

    body = {**CHECKOUT, "translations": [{"language": "nl", "thank_you": text}]}
    response = api_client.post("/api/surveys/", body, format="json")

    assert response.status_code == 400
    [message] = response.json()["errors"]["translations"]["0"]["thank_you"]
    assert error in message
    assert not Survey.objects.exists()


def test_spacing_inside_the_braces_does_not_matter() -> None:
    survey = Survey.objects.create(
        name="NPS",
        slug="nps",
        company_name="Acme",
        question="Recommend {{company}}?",
        thank_you="Thanks from {{  company }}!",
    )
    survey.full_clean()
    texts = survey_texts(survey=survey)
    assert texts.question == "Recommend Acme?"
    assert texts.thank_you == "Thanks from Acme!"
