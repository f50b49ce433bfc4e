"""Read-only JSON in the admin (traits, tag ratings, erasure counts) reads as a table, never as an
editable JSON box, and customer text in it stays text."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from customers.models import Account, DeletionReceipt
from integrations.models import Source
from surveys.models import Response
from tests.surveys.factories import invitation_make, person_make, survey_make

pytestmark = pytest.mark.django_db


def table_rows(page: str) -> list[tuple[str, str]]:
    table = page.split('<table class="hub-json-table">', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr><th scope="row">(.*?)</th><td>(.*?)</td></tr>', table, re.S)


def test_an_answers_tag_ratings_are_a_table_of_tags_and_ratings(admin_client: Client) -> None:
    survey = survey_make(tags=["Support", "Price"])
    invitation = invitation_make(survey=survey, person=person_make())
    answer = Response.objects.create(
        invitation=invitation,
        survey=survey,
        person=invitation.person,
        rating=9,
        tag_ratings={"Support": 5, "Price": 3},
    )

    page = admin_client.get(f"/admin/surveys/response/{answer.pk}/change/").content.decode()

    assert '<th scope="col">tag</th><th scope="col">rating</th>' in page
    assert table_rows(page) == [("Price", "3"), ("Support", "5")]
    assert "<textarea" not in page


def test_a_persons_traits_are_a_table_with_customer_text_escaped(admin_client: Client) -> None:
    person = person_make(
        traits={
            "plan": "pro",
            "seats": 12,
            "beta": True,
            "name": "<script>x()</script>",
            "address": {"city": "Gent"},
        }
    )

    page = admin_client.get(f"/admin/customers/person/{person.pk}/change/").content.decode()

    rows = dict(table_rows(page))
    assert rows["plan"] == "pro"
    assert rows["seats"] == "12"
    assert rows["beta"] == "true"
    assert rows["name"] == "&lt;script&gt;x()&lt;/script&gt;"
    assert '<pre class="hub-payload">' in rows["address"]  # nested: a pretty block in its cell
    assert "<script>x()" not in page


def test_an_erasure_receipt_lists_what_was_erased(admin_client: Client, source: Source) -> None:
    receipt = DeletionReceipt.objects.create(
        source=source, requested_by="staff ops", erased={"people": 1, "events": 12}
    )

    page = admin_client.get(f"/admin/customers/deletionreceipt/{receipt.pk}/change/").content.decode()

    assert table_rows(page) == [("events", "12"), ("people", "1")]


def linked_styles(page: str) -> str:
    """The text of every stylesheet the page links from the hub's static files."""
    hrefs = re.findall(r'<link rel="stylesheet" href="/static/([^"]+)"', page)
    return "".join(Path(found).read_text() for href in hrefs if (found := finders.find(href)))


def test_every_admin_page_with_a_json_table_loads_its_styles(admin_client: Client, source: Source) -> None:
    person = person_make(traits={"plan": "pro", "address": {"city": "Gent"}})
    account = Account.objects.create(source=source, group_id="acme", traits={"plan": "pro"})
    survey = survey_make(tags=["Support"])
    answer = Response.objects.create(
        invitation=invitation_make(survey=survey, person=person),
        survey=survey,
        person=person,
        rating=9,
        tag_ratings={"Support": 5},
    )
    receipt = DeletionReceipt.objects.create(source=source, requested_by="staff ops", erased={"people": 1})
    pages = [
        f"/admin/customers/person/{person.pk}/change/",
        f"/admin/customers/account/{account.pk}/change/",
        f"/admin/customers/deletionreceipt/{receipt.pk}/change/",
        f"/admin/surveys/response/{answer.pk}/change/",
    ]

    for url in pages:
        page = admin_client.get(url).content.decode()
        assert '<table class="hub-json-table">' in page, url
        styles = linked_styles(page)
        assert "table.hub-json-table" in styles, url
        assert "pre.hub-payload" in styles, url  # a nested value's block in its cell
