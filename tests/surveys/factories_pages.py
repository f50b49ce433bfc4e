"""Test data for the public survey pages: a source, a person, a survey with tags, a sent invitation."""

from html.parser import HTMLParser
from typing import Any

from django.http.response import HttpResponseBase
from django.test import Client
from django.utils import timezone

from customers.models import Person
from integrations.models import Source
from integrations.services import source_create
from surveys.models import Invitation, Survey, SurveyTranslation
from surveys.services.tokens import invitation_token_make
from tests.sources import DEFAULT_SLUG


def page_source(slug: str = DEFAULT_SLUG) -> Source:
    source = Source.objects.filter(slug=slug).first()
    return source or source_create(name=slug.title(), slug=slug)[0]


def page_person(*, source: Source | None = None, **fields: Any) -> Person:
    values = {"user_id": "u-42", "email": "ann@example.com", "language": "en", **fields}
    return Person.objects.create(source=source or page_source(), **values)


def page_survey(*, dutch: bool = False, **fields: Any) -> Survey:
    values = {
        "name": "Customer NPS",
        "slug": "customer-nps",
        "company_name": "Acme",
        "tags": ["Support", "Price"],
        "tag_scale": 5,
        "logo_url": "https://cdn.example.com/acme-logo.png",
        "accent_color": "#0b7a53",
        "footer": "Acme Ltd · 1 Main Street, Springfield",
        **fields,
    }
    survey = Survey.objects.create(**values)
    if dutch:
        SurveyTranslation.objects.create(
            survey=survey,
            language="nl",
            question="Hoe waarschijnlijk is het dat je {{ company }} aanbeveelt?",
            followup_detractor="Wat kunnen we beter doen?",
            followup_passive="Wat zou je enthousiaster maken?",
            followup_promoter="Wat vind je het beste aan ons?",
            thank_you="Bedankt voor je feedback!",
        )
    return survey


def page_invitation(
    *, survey: Survey | None = None, person: Person | None = None, **fields: Any
) -> Invitation:
    now = timezone.now()
    values = {"status": Invitation.Status.SENT, "due_at": now, "sent_at": now, "language": "en", **fields}
    return Invitation.objects.create(survey=survey or page_survey(), person=person or page_person(), **values)


def page_path(invitation: Invitation) -> str:
    """The invitation's answer page; "thanks/" and "unsubscribe/" follow it. Tokens carry the time they
    were made, so a test takes one path and reuses it."""
    return f"/s/{invitation_token_make(invitation=invitation)}/"


class _AnswerForm(HTMLParser):
    """What a browser sends with the page's answer form: its hidden fields and checked radios."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.buttons: list[str] = []
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "form" and found.get("method") == "post" and self.action is None:
            self.action = found.get("action")
        elif tag == "input" and found.get("name"):
            kind = found.get("type")
            if kind == "hidden" or (kind == "radio" and "checked" in found):
                self.fields[found["name"] or ""] = found.get("value") or ""
        elif tag == "button" and found.get("type") == "submit":
            self._in_button = True
            self.buttons.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.buttons[-1] += data.strip()


def page_answer_form(html: str) -> _AnswerForm:
    form = _AnswerForm()
    form.feed(html)
    return form


def page_click(client: Client, path: str, score: int) -> HttpResponseBase:
    """A person clicks score `score` in the email: the link's page, then the form it shows, sent as
    is (respond.js sends it by itself; without JavaScript the person presses its confirm button)."""
    page = client.get(f"{path}?score={score}")
    assert page.status_code == 200, page.status_code
    form = page_answer_form(page.content.decode())
    assert form.action == path
    return client.post(form.action, form.fields)
