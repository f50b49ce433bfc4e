"""The report email, end to end through a real SMTP server: what a subscriber reads in it, the trend
chart as an inline PNG, customers' comments escaped, and nothing of an erased person."""

import io
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html import unescape
from typing import Any

import pytest
from django.test import Client
from PIL import Image

from customers.services.erasure import person_erase_record
from insights.charts import BAND, LINE
from insights.models import ReportSending, ReportSubscription
from insights.periods import period_parse
from insights.services.report_emails import report_digest
from insights.services.report_subscriptions import report_emails_send_due
from insights.services.reports import report_build
from insights.services.themes import themes_find
from tests.insights.answers import answer_make, answers_make
from tests.insights.corpus import topic_comments_make
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import person_make, survey_make

pytestmark = pytest.mark.django_db

SUBSCRIBED = datetime(2026, 10, 1, tzinfo=UTC)
W47 = datetime(2026, 11, 18, 12, tzinfo=UTC)  # Wednesday of ISO week 47
W48 = datetime(2026, 11, 25, 12, tzinfo=UTC)  # Wednesday of ISO week 48
MONDAY_W49 = datetime(2026, 11, 30, 8, tzinfo=UTC)  # after 07:00 on the Monday after week 48


def parts(message: EmailMessage) -> dict[str, Any]:
    """The message's leaves by content type (one each)."""
    return {part.get_content_type(): part for part in message.walk() if not part.is_multipart()}


def colours(png: bytes) -> set[Any]:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    return {colour for _, colour in image.getcolors(maxcolors=1 << 20) or []}


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return (int(hex_colour[1:3], 16), int(hex_colour[3:5], 16), int(hex_colour[5:7], 16))


def sent_report(smtp: SmtpRecorder, subscription: ReportSubscription) -> EmailMessage:
    run = report_emails_send_due(now=MONDAY_W49)
    assert run.sent == [f"subscription {subscription.pk}: 2026-W48"]
    [message] = smtp.messages
    return message


def test_the_weekly_report_arrives_with_score_margin_change_and_the_trend_chart_inline(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    survey = survey_make(name="Onboarding NPS")
    for weeks_back in range(2, 6):  # earlier weeks give the trend its points
        answers_make(survey=survey, ratings={10: 5, 8: 3, 2: 2}, at=W47 - timedelta(weeks=weeks_back))
    # -30 ± 15.3: p = 0.2, d = 0.5 have the same variance as the case
    answers_make(survey=survey, ratings={10: 20, 8: 30, 3: 50}, at=W47)
    answers_make(survey=survey, ratings={10: 50, 8: 30, 3: 20}, at=W48)  # +30 ± 15.3 (the case)
    subscription = subscribe(survey=survey, created_at=SUBSCRIBED)

    message = sent_report(smtp, subscription)

    user = subscription.user
    assert message["To"] == f"Ana {user.last_name} <{user.email}>"
    assert (
        message["Subject"].strip()
        == "NPS report: Onboarding NPS, week 48 of 2026 (23\N{EN DASH}29 Nov): +30 ± 15.3 (n = 100)"
    )
    assert message["Message-ID"] == f"<report-{subscription.pk}.2026-W48@feedback.acme.example>"
    assert message.get_content_type() == "multipart/related"
    leaves = parts(message)
    text = leaves["text/plain"].get_content()
    html = leaves["text/html"].get_content()
    assert "Score: +30 ± 15.3 (n = 100)" in text
    assert "Up 60.0 points since week 47 of 2026 (16\N{EN DASH}22 Nov): a significant change" in text
    assert "Up 60.0 points since week 47" in html
    assert "a significant change" in html
    assert "2026-W47: -30 ± 15.3 (n = 100)" in text  # the trend's points, for the text part
    # The chart: an inline PNG the HTML shows by its Content-ID, drawn with the band and the line.
    png_part = leaves["image/png"]
    assert png_part["Content-ID"] == "<trend-chart>"
    assert png_part.get_content_disposition() == "inline"
    assert 'src="cid:trend-chart"' in html
    png = png_part.get_content()
    image = Image.open(io.BytesIO(png))
    image.verify()
    assert (image.format, image.size) == ("PNG", (800, 320))
    assert {rgb(BAND), rgb(LINE)} <= colours(png)
    # The link opens this survey's report page in the admin, for exactly this week.
    link = re.search(r'href="(https://feedback\.acme\.example/admin/insights/surveyreport/[^"]+)"', html)
    assert link is not None
    client = Client()
    client.force_login(subscription.user)
    page = client.get(unescape(link.group(1)).removeprefix("https://feedback.acme.example"))
    assert page.status_code == 200
    assert "NPS report: Onboarding NPS" in page.content.decode()
    assert page.context["report"].score.n == 100
    assert page.context["report"].period.start == datetime(2026, 11, 23, tzinfo=UTC)
    assert ReportSending.objects.get(subscription=subscription).status == "sent"


def test_a_change_within_the_margin_is_called_not_significant(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    survey = survey_make()
    answers_make(survey=survey, ratings={10: 5, 8: 3, 3: 2}, at=W47)
    answers_make(survey=survey, ratings={10: 6, 8: 2, 3: 2}, at=W48)
    subscription = subscribe(survey=survey, created_at=SUBSCRIBED)

    text = parts(sent_report(smtp, subscription))["text/plain"].get_content()

    assert "Score: +40 ± 49.6 (n = 10, small sample)" in text
    assert "Up 10.0 points since week 47 of 2026 (16\N{EN DASH}22 Nov): not a significant change" in text
    assert "Small sample: fewer than 30 people" in text


def test_comments_are_customers_text_escaped_in_the_html_and_the_latest_per_band_are_shown(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    survey = survey_make()
    answer_make(survey=survey, rating=2, at=W48, comment='<img src=x onerror="alert(1)"> & too slow')
    for hour in range(5):
        answer_make(survey=survey, rating=10, at=W48 + timedelta(hours=hour), comment=f"love it #{hour}")
    subscription = subscribe(survey=survey, created_at=SUBSCRIBED)

    leaves = parts(sent_report(smtp, subscription))
    html, text = leaves["text/html"].get_content(), leaves["text/plain"].get_content()

    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; too slow" in html
    assert '2: <img src=x onerror="alert(1)"> & too slow' in text
    # the three latest promoters' comments, newest first; the older two are left out
    assert "love it #4" in text
    assert "love it #2" in text
    assert "love it #1" not in text
    assert text.index("love it #4") < text.index("love it #3") < text.index("love it #2")


def test_an_erased_persons_comment_is_never_in_a_report(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    survey = survey_make()
    erased = answer_make(survey=survey, rating=1, at=W48, comment="Jane Roe here: my invoice was wrong")
    answer_make(survey=survey, rating=3, at=W48 - timedelta(hours=1), comment="the app keeps crashing")
    subscription = subscribe(survey=survey, created_at=SUBSCRIBED)
    assert erased.person is not None

    person_erase_record(person=erased.person, requested_by="test")

    message = sent_report(smtp, subscription)
    raw = message.as_string()
    assert "Jane Roe" not in raw
    assert "invoice was wrong" not in raw
    assert "the app keeps crashing" in parts(message)["text/plain"].get_content()


def test_top_themes_are_listed_with_their_share_among_detractors(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    survey = survey_make()
    topic_comments_make(survey, now=MONDAY_W49 - timedelta(hours=8), days=7)
    themes_find(survey=survey)
    subscription = subscribe(survey=survey, created_at=SUBSCRIBED)

    text = parts(sent_report(smtp, subscription))["text/plain"].get_content()

    section = text.split("What people talk about:")[1].split("Latest comments:")[0]
    lines = [line for line in section.splitlines() if line.startswith("  - ")]
    assert 1 <= len(lines) <= 5
    assert any("invoice" in line or "charged" in line or "billing" in line for line in lines)
    assert all("of detractors' comments" in line for line in lines)


def test_the_hub_wide_report_covers_every_survey(
    smtp: SmtpRecorder, subscribe: Callable[..., ReportSubscription]
) -> None:
    answers_make(survey=survey_make(slug="a", name="A"), ratings={10: 3}, at=W48)
    answers_make(survey=survey_make(slug="b", name="B"), ratings={0: 1}, at=W48)
    subscription = subscribe(survey=None, created_at=SUBSCRIBED)

    message = sent_report(smtp, subscription)

    assert message["Subject"].strip().startswith("NPS report: All surveys, week 48 of 2026")
    assert "Score: +50 ± " in parts(message)["text/plain"].get_content()


def test_the_score_of_the_period_before_is_that_of_its_own_report() -> None:
    """The email reads the period before from the trend's bucket: the same people, each by their latest
    answer there, as a report of that period counts, also for a week of 169 hours (fall back in Berlin)."""
    survey, quiet = survey_make(slug="busy", name="Busy"), survey_make(slug="quiet", name="Quiet")
    week_44 = period_parse("2026-W44", zone="Europe/Berlin")  # after the week of 25 October's fall back
    twice, across = person_make(), person_make()
    answer_make(survey=survey, rating=10, at=datetime(2026, 10, 20, tzinfo=UTC), person=twice)
    answer_make(survey=survey, rating=0, at=datetime(2026, 10, 22, tzinfo=UTC), person=twice)  # counts
    answer_make(survey=survey, rating=9, at=datetime(2026, 10, 21, tzinfo=UTC), person=across)
    answer_make(survey=survey, rating=3, at=datetime(2026, 10, 27, tzinfo=UTC), person=across)
    answer_make(survey=survey, rating=7, at=datetime(2026, 10, 18, 22, 30, tzinfo=UTC))  # 00:30 CEST, W43
    answer_make(survey=survey, rating=8, at=datetime(2026, 10, 25, 22, 30, tzinfo=UTC))  # 23:30 CET, W43
    answer_make(survey=survey, rating=2, at=datetime(2026, 10, 18, 21, 30, tzinfo=UTC))  # W42
    answer_make(survey=survey, rating=1, at=datetime(2026, 10, 25, 23, 30, tzinfo=UTC))  # W44
    answer_make(survey=quiet, rating=10, at=datetime(2026, 10, 28, tzinfo=UTC))  # nothing the week before

    for each, n in ((survey, 4), (quiet, 0)):
        digest = report_digest(survey=each, period=week_44)
        own = report_build(survey=each, period=week_44.previous(), compare=False, tz=week_44.tzinfo)

        assert digest.previous == own.score
        assert digest.previous.n == n
