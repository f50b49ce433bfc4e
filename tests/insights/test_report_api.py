"""The report over the API (/api/surveys/{id}/report/) and the answers' export (/api/responses/export/):
same numbers as the service, the same filters, clear 400s, staff with permission only, files that
open in a spreadsheet and never run a formula."""

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime

import openpyxl
import pytest
from rest_framework.test import APIClient

from customers.services.erasure import person_erase_record
from tests.insights.answers import answer_make, answers_make
from tests.surveys.factories import person_make, survey_make

pytestmark = pytest.mark.django_db

MID_MARCH = datetime(2026, 3, 15, 12, tzinfo=UTC)
MARCH = "since=2026-03-01&until=2026-03-31"


def streamed(response: object) -> bytes:
    return b"".join(response.streaming_content)  # type: ignore[attr-defined]


def test_the_report_json_has_the_score_with_its_margin(api_client: APIClient) -> None:
    survey = survey_make()
    answers_make(survey=survey, ratings={10: 50, 8: 30, 3: 20}, at=MID_MARCH)

    body = api_client.get(f"/api/surveys/{survey.pk}/report/?{MARCH}&by=language").json()

    assert body["score"]["n"] == 100
    assert body["score"]["nps"] == 30
    assert round(body["score"]["margin"], 1) == 15.3
    assert body["distribution"][10] == 50
    assert body["period"] == {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
    assert body["breakdowns"][0]["dimension"] == "language"


def test_the_report_takes_the_same_filters(api_client: APIClient) -> None:
    survey = survey_make()
    for plan, rating in [("pro", 10)] * 3 + [("free", 0)] * 2:
        answer_make(survey=survey, rating=rating, at=MID_MARCH, person=person_make(traits={"plan": plan}))

    body = api_client.get(f"/api/surveys/{survey.pk}/report/?{MARCH}&trait:plan=free&count=answers").json()

    assert (body["score"]["n"], body["score"]["nps"], body["filters"]) == (2, -100, {"trait:plan": "free"})


def test_dates_and_the_trend_follow_the_time_zone_asked_for(api_client: APIClient) -> None:
    survey = survey_make()
    answers_make(
        survey=survey, ratings={10: 2}, at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC)
    )  # Mar 2 in Berlin
    answers_make(
        survey=survey, ratings={0: 1}, at=datetime(2026, 3, 31, 22, 30, tzinfo=UTC)
    )  # Apr 1 in Berlin
    query = f"/api/surveys/{survey.pk}/report/?{MARCH}&trend=day"

    utc = api_client.get(query).json()
    berlin = api_client.get(f"{query}&tz=Europe/Berlin").json()

    assert utc["period"] == {"start": "2026-03-01T00:00:00Z", "end": "2026-04-01T00:00:00Z"}
    assert [point["start"][:10] for point in utc["trend"]] == ["2026-03-01", "2026-03-31"]
    # March 1 to 31 of Berlin: one hour ahead of UTC, two from March 29; April 1 is not counted.
    assert berlin["period"] == {"start": "2026-02-28T23:00:00Z", "end": "2026-03-31T22:00:00Z"}
    assert [(point["start"], point["score"]["n"]) for point in berlin["trend"]] == [
        ("2026-03-02T00:00:00+01:00", 2)
    ]
    assert berlin["score"]["n"] == 2


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("since=yesterday", "'since' is a date"),
        ("since=2026-03-02&until=2026-03-01", "before 'until'"),
        ("days=99999999999999999999999", "'days' is a whole number"),
        ("since=0001-01-02", "'since' is a date"),
        ("by=shoe", "Unknown dimension"),
        ("count=some", "'count' is one of"),
        ("source=abc", "takes an id"),
        ("trait:plan=" + "x" * 201, "short text value"),
        ("trend=day&days=3000", "daily trend"),
        ("export=pdf", "csv or xlsx"),
        ("tz=Mars/Olympus", "unknown time zone"),
        ("tz=+05:00", "unknown time zone"),
    ],
)
def test_bad_parameters_are_a_clear_400(api_client: APIClient, query: str, message: str) -> None:
    survey = survey_make()

    response = api_client.get(f"/api/surveys/{survey.pk}/report/?{query}")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert message in response.json()["message"]


@pytest.mark.parametrize("zone", ["UTC", "Pacific/Kiritimati", "America/Adak"])
@pytest.mark.parametrize("trend", ["day", "week", "month"])
def test_the_last_days_the_hub_can_hold_are_a_report_in_any_time_zone(
    api_client: APIClient, zone: str, trend: str
) -> None:
    survey = survey_make()

    response = api_client.get(
        f"/api/surveys/{survey.pk}/report/?since=9999-12-01&until=9999-12-30&tz={zone}&trend={trend}&rolling=30"
    )

    assert response.status_code == 200


def test_a_nul_byte_in_a_filter_or_dimension_is_no_error(api_client: APIClient) -> None:
    survey = survey_make()

    response = api_client.get(f"/api/surveys/{survey.pk}/report/?trait:pl%00an=%00&by=trait:%00")

    assert response.status_code == 200
    assert response.json()["breakdowns"][0]["dimension"] == "trait:\ufffd"


def test_an_unknown_survey_is_a_404(api_client: APIClient) -> None:
    for ref in ("999", "99999999999999999999999", "abc"):
        response = api_client.get(f"/api/surveys/{ref}/report/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_only_staff_who_may_read_answers_see_reports(staff_api_client: Callable[..., APIClient]) -> None:
    survey = survey_make()
    surveys_only = staff_api_client("surveys.view_survey")
    answers_too = staff_api_client("surveys.view_survey", "surveys.view_response")

    assert surveys_only.get(f"/api/surveys/{survey.pk}/report/").status_code == 403
    assert surveys_only.get("/api/responses/export/").status_code == 403
    assert answers_too.get(f"/api/surveys/{survey.pk}/report/").status_code == 200
    assert answers_too.get("/api/responses/export/").status_code == 200
    # Traits are people's data.
    assert answers_too.get("/api/responses/export/?traits=plan").status_code == 403


def test_the_report_tables_export_as_csv_and_xlsx(api_client: APIClient) -> None:
    survey = survey_make()
    answers_make(survey=survey, ratings={10: 6, 0: 2}, at=MID_MARCH, language="en")

    text = streamed(api_client.get(f"/api/surveys/{survey.pk}/report/?{MARCH}&export=csv")).decode()
    xlsx = api_client.get(f"/api/surveys/{survey.pk}/report/?{MARCH}&export=xlsx")

    assert "summary" in text
    assert "period,2026-03-01T00:00:00+00:00,2026-04-01T00:00:00+00:00,8,50.0" in text
    book = openpyxl.load_workbook(io.BytesIO(streamed(xlsx)))
    assert book.sheetnames[:3] == ["summary", "distribution", "trend by day"]
    assert [cell.value for cell in book["by language"][2]][:3] == ["en", 8, 50]


def test_the_answers_export_has_traits_tags_comment_band_and_times(api_client: APIClient) -> None:
    survey = survey_make(tags=["Support"])
    person = person_make(traits={"plan": "pro", "country": "BE"})
    answer_make(
        survey=survey,
        person=person,
        rating=9,
        at=MID_MARCH,
        comment="Fast",
        tag_ratings={"Support": 4},
        language="nl",
    )

    response = api_client.get(f"/api/responses/export/?survey={survey.pk}&{MARCH}&traits=plan,country")
    rows = list(csv.DictReader(io.StringIO(streamed(response).decode())))

    assert response["Content-Type"].startswith("text/csv")
    assert (
        response["Content-Disposition"] == 'attachment; filename="onboarding-answers-20260301-20260401.csv"'
    )
    assert len(rows) == 1
    row = rows[0]
    assert (row["score"], row["band"], row["comment"], row["language"], row["source"]) == (
        "9",
        "promoter",
        "Fast",
        "nl",
        "Web app",
    )
    assert (row["tag: Support"], row["trait: plan"], row["trait: country"]) == ("4", "pro", "BE")
    assert row["answered_at"] == "2026-03-15T12:00:00+00:00"


@pytest.mark.parametrize("comment", ['=HYPERLINK("http://evil")', "+1+2", "-2+3", "@SUM(A1)", "\t=1"])
def test_exports_never_hand_a_spreadsheet_a_formula(api_client: APIClient, comment: str) -> None:
    survey = survey_make()
    answer_make(
        survey=survey, rating=9, at=MID_MARCH, comment=comment, person=person_make(traits={"plan": comment})
    )

    text = streamed(api_client.get(f"/api/responses/export/?{MARCH}&traits=plan")).decode()
    xlsx = api_client.get(f"/api/responses/export/?{MARCH}&traits=plan&export=xlsx")

    row = next(csv.DictReader(io.StringIO(text)))
    assert row["comment"] == "'" + comment
    assert row["trait: plan"] == "'" + comment
    sheet = openpyxl.load_workbook(io.BytesIO(streamed(xlsx))).active
    assert sheet is not None
    header = [cell.value for cell in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("comment") + 1)
    assert (cell.value, cell.data_type) == (comment, "s")


def test_an_erased_persons_words_and_traits_are_not_in_the_export(api_client: APIClient) -> None:
    survey = survey_make()
    person = person_make(traits={"plan": "secret-plan"}, email="gone@example.com")
    answer_make(survey=survey, person=person, rating=2, at=MID_MARCH, comment="my secret complaint")

    person_erase_record(person=person, requested_by="test")
    text = streamed(api_client.get(f"/api/responses/export/?{MARCH}&traits=plan,email")).decode()

    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 1  # the score stays counted
    assert rows[0]["score"] == "2"
    assert "secret" not in text
    assert "gone@example.com" not in text
