"""Read-only JSON reads as tables in the browser: a person's traits, an answer's tag ratings."""

from playwright.sync_api import Page, expect

from surveys.models import Response
from tests.surveys.factories import invitation_make, person_make, survey_make


def test_traits_and_tag_ratings_are_tables(admin_page: Page) -> None:
    page = admin_page
    person = person_make(traits={"plan": "pro", "seats": 12, "name": "<b>Ann</b>"})
    survey = survey_make(tags=["Support", "Price"])
    invitation = invitation_make(survey=survey, person=person)
    answer = Response.objects.create(
        invitation=invitation, survey=survey, person=person, rating=9, tag_ratings={"Support": 5, "Price": 3}
    )

    page.goto(f"/admin/customers/person/{person.pk}/change/")
    traits = page.locator("table.hub-json-table")
    expect(traits.locator("thead th")).to_have_text(["trait", "value"])
    expect(traits.locator("tbody tr")).to_have_text(["name<b>Ann</b>", "planpro", "seats12"])

    page.goto(f"/admin/surveys/response/{answer.pk}/change/")
    expect(page.get_by_role("heading", name="View answer")).to_be_visible()
    ratings = page.locator("table.hub-json-table")
    expect(ratings.locator("tbody tr")).to_have_text(["Price3", "Support5"])
    expect(page.locator("textarea")).to_have_count(0)
