"""The charts render: an SVG the page can scale and read aloud, a PNG for emails, with the band."""

import io
from datetime import UTC, datetime, timedelta

import numpy
from PIL import Image

from insights.charts import BAND, distribution_chart, trend_chart
from insights.services.reports import TrendPoint
from insights.stats import Score

START = datetime(2026, 3, 2, tzinfo=UTC)
POINTS = [
    TrendPoint(
        start=START + timedelta(weeks=week),
        end=START + timedelta(weeks=week + 1),
        score=Score(20 + week, 10, 10),
    )
    for week in range(6)
]


def band_pixels(png: bytes) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    colour = tuple(int(BAND[index : index + 2], 16) for index in (1, 3, 5))
    return int(numpy.all(numpy.asarray(image) == colour, axis=-1).sum())


def test_the_trend_png_shows_the_confidence_band() -> None:
    png = trend_chart(POINTS, fmt="png")

    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert band_pixels(png) > 2000


def test_a_trend_without_answers_has_no_band() -> None:
    empty = [TrendPoint(start=START, end=START + timedelta(weeks=1), score=Score(0, 0, 0))]

    assert band_pixels(trend_chart(empty, fmt="png")) == 0


def test_the_svg_scales_to_its_container_and_has_a_title() -> None:
    svg = trend_chart(POINTS, title="NPS by week, 2 March to 13 April").decode()

    assert svg.startswith("<svg")
    assert "viewBox" in svg
    assert ' width="' not in svg.split(">", 1)[0]
    assert "<title>NPS by week, 2 March to 13 April</title>" in svg
    assert BAND in svg.lower()


def test_the_distribution_chart_colours_bands() -> None:
    svg = distribution_chart([1, 0, 0, 0, 0, 0, 2, 3, 0, 4, 5]).decode()

    assert all(colour in svg for colour in ("#d9534f", "#b8b8b8", "#3c9d4e"))
