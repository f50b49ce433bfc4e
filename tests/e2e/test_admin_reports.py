"""A staff member opens the admin and sees the NPS: from the index to the overview, then a survey's
report with its score, margin, trend with its confidence band and distribution, also at a phone's
width. The screenshot test fails when the chart does not render (no pixel of the band's colour)."""

import io
import re
from datetime import timedelta

import numpy
import pytest
from django.utils import timezone
from PIL import Image
from playwright.sync_api import Page, expect

from insights.charts import BAND, BAND_COLOURS
from surveys.models import Survey
from tests.e2e.conftest import screenshot
from tests.insights.answers import answer_make, answers_make
from tests.surveys.factories import survey_make


@pytest.fixture
def survey(transactional_db: None) -> Survey:
    survey = survey_make(name="Checkout NPS", slug="checkout")
    now = timezone.now()
    for weeks_ago, ratings in enumerate([{10: 8, 8: 3, 2: 2}, {9: 5, 7: 4, 0: 4}, {10: 6, 3: 3}]):
        answers_make(survey=survey, ratings=ratings, at=now - timedelta(weeks=weeks_ago, days=1))
    answer_make(survey=survey, rating=1, at=now - timedelta(days=2), comment="Support never answered.")
    return survey


def pixels_of(png: bytes, colour: str) -> int:
    image = numpy.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    rgb = [int(colour[index : index + 2], 16) for index in (1, 3, 5)]
    return int(numpy.all(image == rgb, axis=-1).sum())


def test_staff_open_the_nps_report_and_see_score_margin_trend_and_comments(
    admin_page: Page, survey: Survey
) -> None:
    page = admin_page
    page.get_by_role("link", name="NPS reports").click()
    expect(page.get_by_role("heading", name="NPS reports: all surveys")).to_be_visible()
    page.get_by_role("table").filter(has_text="Survey").get_by_role("link", name="Checkout NPS").click()

    expect(page.get_by_role("heading", name="NPS report: Checkout NPS")).to_be_visible()
    expect(page.locator("#nps")).to_have_text(re.compile(r"^-?\d+$"))
    expect(page.get_by_title("95 % margin of error")).to_have_text(re.compile(r"± \d+\.\d"))
    expect(page.get_by_role("img", name=re.compile("NPS by week"))).to_be_visible()
    expect(page.get_by_text("Support never answered.")).to_be_visible()
    page.get_by_text("The trend as a table").click()
    expect(page.locator("#trend-title ~ details table tbody tr")).to_have_count(3)

    chart = page.locator("#trend-chart")
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 100
    png = chart.screenshot()
    assert pixels_of(png, BAND) > 1000  # the confidence band is drawn
    assert pixels_of(page.locator("#distribution-chart").screenshot(), BAND_COLOURS["promoter"]) > 100
    screenshot(page, "admin-report")


def test_the_report_fits_a_phones_width(admin_page: Page, survey: Survey) -> None:
    page = admin_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/admin/insights/surveyreport/{survey.pk}/change/")

    chart = page.locator("#trend-chart svg")
    expect(chart).to_be_visible()
    box = chart.bounding_box()
    assert box is not None
    assert 200 < box["width"] <= 390
    assert pixels_of(page.locator("#trend-chart").screenshot(), BAND) > 200
    report_width = page.evaluate("document.getElementById('report').scrollWidth")
    assert report_width <= 390
    screenshot(page, "admin-report-phone")
