"""Staff find comments by sentiment, language and flag, and see each survey's themes (shares by band
and change, quotes) that they rename, merge and hide in the admin; the next run keeps their edits."""

from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from insights.models import Theme
from insights.services.comments import comments_sweep
from insights.services.themes import themes_find, themes_merge
from surveys.models import Response, Survey
from tests.insights.corpus import topic_comments_make
from tests.insights.test_themes import themes_by_topic
from tests.surveys.factories import invitation_make, person_make, survey_make

pytestmark = pytest.mark.django_db

COMMENTS = {
    "flagged": (10, "Terrible support, nobody answers my tickets."),
    "german": (3, "Die Rechnung war falsch und niemand hat geantwortet."),
    "happy": (9, "Great reports, I love the new dashboard."),
}


@pytest.fixture
def answers() -> dict[str, Response]:
    survey = survey_make()
    made = {}
    for key, (rating, comment) in COMMENTS.items():
        invitation = invitation_make(survey=survey, person=person_make())
        made[key] = Response.objects.create(
            invitation=invitation, survey=survey, person=invitation.person, rating=rating, comment=comment
        )
    comments_sweep()
    return made


def listed(client: Client, query: str) -> set[str]:
    page = unescape(client.get(f"/admin/insights/commentanalysis/?{query}").content.decode())
    return {key for key, (_, comment) in COMMENTS.items() if comment[:60] in page}


def test_a_comments_page_shows_what_was_read_from_it(
    admin_client: Client, answers: dict[str, Response]
) -> None:
    page = admin_client.get(f"/admin/insights/commentanalysis/{answers['german'].pk}/change/")

    assert page.status_code == 200
    assert "not scored (language not covered)" in unescape(page.content.decode())


@pytest.mark.usefixtures("answers")
@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"flagged", "german", "happy"}),
        ("flagged__exact=1", {"flagged"}),
        ("sentiment__exact=not_scored", {"german"}),
        ("sentiment__exact=positive", {"happy"}),
        ("language=de", {"german"}),
        ("band=promoter", {"flagged", "happy"}),
    ],
)
def test_comments_are_listed_by_sentiment_language_and_flag(
    admin_client: Client, query: str, expected: set[str]
) -> None:
    assert listed(admin_client, query) == expected


@pytest.fixture
def survey() -> Survey:
    survey = survey_make()
    topic_comments_make(survey)
    themes_find(survey=survey)
    return survey


def test_the_themes_page_shows_each_themes_shares_change_and_quotes(
    admin_client: Client, survey: Survey
) -> None:
    page = unescape(
        admin_client.get(f"/admin/insights/theme/?survey__id__exact={survey.pk}").content.decode()
    )

    billing = themes_by_topic(survey)["billing"]
    assert "share of each band's comments" in page.lower()
    assert "detractors: " in page
    assert all(quote.comment in page for quote in billing.quotes.all())
    assert "charged twice" in page
    assert " % (+" in page  # billing is new this period: its shares went up
    assert "change against the period before" in page


def test_staff_rename_merge_and_hide_themes_and_the_next_run_keeps_it(
    admin_client: Client, survey: Survey
) -> None:
    themes = themes_by_topic(survey)
    change_page = admin_client.get(f"/admin/insights/theme/{themes['billing'].pk}/change/")
    assert change_page.status_code == 200
    assert "charged twice" in unescape(change_page.content.decode())
    renamed = admin_client.post(
        f"/admin/insights/theme/{themes['billing'].pk}/change/", {"name": "Invoices", "merged_into": ""}
    )
    assert renamed.status_code == 302
    admin_client.post(
        "/admin/insights/theme/",
        {"action": "merge", "_selected_action": [themes["onboarding"].pk, themes["reports"].pk]},
    )
    admin_client.post("/admin/insights/theme/", {"action": "hide", "_selected_action": [themes["mobile"].pk]})

    themes_find(survey=survey, now=timezone.now())

    after = {theme.pk: theme for theme in Theme.objects.filter(survey=survey)}
    assert after[themes["billing"].pk].name == "Invoices"
    assert after[themes["mobile"].pk].hidden
    merged = {after[themes["onboarding"].pk].merged_into_id, after[themes["reports"].pk].merged_into_id}
    assert merged in ({None, themes["onboarding"].pk}, {None, themes["reports"].pk})
    page = unescape(
        admin_client.get(f"/admin/insights/theme/?survey__id__exact={survey.pk}").content.decode()
    )
    assert "Invoices" in page
    assert "counted in the theme it is merged into" in page


def test_renaming_a_merged_theme_in_the_list_keeps_it_merged(admin_client: Client, survey: Survey) -> None:
    themes = themes_by_topic(survey)
    themes_merge(themes=[themes["onboarding"]], into=themes["reports"])
    listed = list(Theme.objects.filter(survey=survey))  # the list's order: most talked about first
    form = {"form-TOTAL_FORMS": len(listed), "form-INITIAL_FORMS": len(listed), "_save": "Save"}
    for index, theme in enumerate(listed):
        form[f"form-{index}-id"] = theme.pk
        form[f"form-{index}-name"] = "Getting started" if theme.pk == themes["onboarding"].pk else theme.name

    answer = admin_client.post(f"/admin/insights/theme/?survey__id__exact={survey.pk}", form)

    assert answer.status_code == 302
    onboarding = Theme.objects.get(pk=themes["onboarding"].pk)
    assert onboarding.name == "Getting started"
    assert onboarding.merged_into_id == themes["reports"].pk
