"""The NPS report pages in the admin: the overview on the index, a survey's report with its score,
margin, change, charts with text alternatives, breakdowns with hidden cells, comments (escaped), themes,
exports; staff who may not read answers do not see them; bad settings are a message, not an error."""

import csv
import io
from datetime import timedelta
from html import unescape

import pytest
from django.test import Client
from django.utils import timezone

from tests.conftest import permissions_named
from tests.insights.answers import answer_make, answers_make
from tests.surveys.factories import survey_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey() -> object:
    survey = survey_make(name="Checkout NPS", slug="checkout", tags=["Support"])
    at = timezone.now() - timedelta(days=3)
    answers_make(
        survey=survey, ratings={10: 10, 8: 6, 3: 4}, at=at, language="en", tag_ratings={"Support": 4}
    )
    answers_make(survey=survey, ratings={9: 2}, at=at, language="de")
    answer_make(
        survey=survey, rating=2, at=at, comment="<script>alert(1)</script> slow invoices", language="en"
    )
    return survey


def page_text(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return unescape(response.content.decode())


def test_the_admin_index_links_to_the_overview(admin_client: Client) -> None:
    index = admin_client.get("/admin/").content.decode()

    assert '<a href="/admin/insights/surveyreport/">NPS reports</a>' in index


def test_the_overview_lists_each_surveys_score(admin_client: Client, survey: object) -> None:
    text = page_text(admin_client, "/admin/insights/surveyreport/")

    assert "NPS reports: all surveys" in text
    assert "Checkout NPS" in text
    assert "n = 23 people" in text


def test_a_surveys_report_shows_score_margin_charts_breakdowns_and_comments(
    admin_client: Client, survey: object
) -> None:
    html = admin_client.get(f"/admin/insights/surveyreport/{survey.pk}/change/?by=language").content.decode()  # type: ignore[attr-defined]
    text = unescape(html)

    # 12 promoters, 6 passives, 5 detractors of 23: NPS 30.4; p + d = 0.739, (p - d)² = 0.093,
    # margin 1.96 * sqrt(0.6465 / 23) * 100 = 32.9
    assert '<span class="report-score" id="nps">30</span>' in html
    assert "± 32.9" in text
    assert 'id="small-sample"' in html
    assert html.count('version="1.1" role="img" aria-label=') == 2  # the trend and the distribution
    assert 'aria-label="NPS by week, ' in html
    assert "The trend as a table" in text
    assert "1 group of fewer than 5 people hidden (2 in all)" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; slow invoices" in html
    assert "<script>alert(1)" not in html
    assert "Drivers" in text


def test_bad_settings_are_a_message_and_the_default_report(admin_client: Client, survey: object) -> None:
    text = page_text(admin_client, f"/admin/insights/surveyreport/{survey.pk}/change/?since=someday&by=%00")  # type: ignore[attr-defined]

    assert "'since' is a date or a time" in text
    assert "Showing the last 90 days instead." in text


def test_an_unknown_time_zone_is_a_message_and_a_known_one_shows_its_days(
    admin_client: Client, survey: object
) -> None:
    url = f"/admin/insights/surveyreport/{survey.pk}/change/"  # type: ignore[attr-defined]

    unknown = page_text(admin_client, f"{url}?tz=Europe/Atlantis")
    berlin = page_text(admin_client, f"{url}?tz=Europe/Berlin&since=2026-03-01&until=2026-03-31")

    assert "'tz': unknown time zone 'Europe/Atlantis'" in unknown
    assert "Showing the last 90 days instead." in unknown
    assert 'name="tz" value="Europe/Berlin"' in berlin
    assert 'name="since" value="2026-03-01"' in berlin  # Berlin's March 1st, 23:00 UTC the day before
    assert "Net Promoter Score, 1 Mar 2026 \N{EN DASH} 1 Apr 2026" in berlin


def test_staff_who_may_not_read_answers_do_not_see_reports(
    client: Client, django_user_model: object, survey: object
) -> None:
    user = django_user_model.objects.create_user(username="viewer", password="pw-viewer-123", is_staff=True)  # type: ignore[attr-defined]
    user.user_permissions.add(*permissions_named("surveys.view_survey"))
    client.force_login(user)

    assert "NPS reports" not in client.get("/admin/").content.decode()
    assert client.get(f"/admin/insights/surveyreport/{survey.pk}/change/").status_code == 403  # type: ignore[attr-defined]
    assert client.get(f"/admin/insights/surveyreport/{survey.pk}/export/").status_code == 403  # type: ignore[attr-defined]

    user.user_permissions.add(*permissions_named("surveys.view_response"))
    assert client.get(f"/admin/insights/surveyreport/{survey.pk}/change/").status_code == 200  # type: ignore[attr-defined]


def test_the_report_page_exports_answers_and_tables(admin_client: Client, survey: object) -> None:
    url = f"/admin/insights/surveyreport/{survey.pk}/export/"  # type: ignore[attr-defined]

    answers = b"".join(admin_client.get(f"{url}?what=answers&export=csv&language=de").streaming_content)  # type: ignore[attr-defined]
    tables = b"".join(admin_client.get(f"{url}?what=report&export=csv").streaming_content)  # type: ignore[attr-defined]

    rows = list(csv.DictReader(io.StringIO(answers.decode())))
    assert [(row["score"], row["language"]) for row in rows] == [("9", "de"), ("9", "de")]
    assert "by language" in tables.decode()
