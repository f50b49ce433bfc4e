"""Erasing a person takes what comment analysis derived from their comment along: its analysis
(sentiment, language, flag, theme) and its place among a theme's example quotes."""

import pytest

from customers.services.erasure import person_erase_record
from insights.models import CommentAnalysis
from insights.selectors import themes_for, themes_period
from insights.services.themes import themes_find
from surveys.models import Response
from tests.insights.corpus import topic_comments_make
from tests.insights.test_themes import themes_by_topic
from tests.pii import pii_hits
from tests.surveys.factories import survey_make

pytestmark = pytest.mark.django_db


def test_erasing_a_quoted_person_leaves_nothing_derived_from_their_comment() -> None:
    survey = survey_make()
    topic_comments_make(survey)
    themes_find(survey=survey)
    billing = themes_by_topic(survey)["billing"]
    quoted = billing.quotes.order_by("pk").select_related("person").first()
    assert quoted is not None
    assert quoted.person is not None
    comment = quoted.comment
    assert CommentAnalysis.objects.filter(response=quoted).exists()

    person_erase_record(person=quoted.person, requested_by="test")

    assert not CommentAnalysis.objects.filter(response=quoted).exists()
    assert quoted not in billing.quotes.all()
    assert pii_hits(comment) == []
    summaries = themes_for(survey=survey, period=themes_period(survey=survey))
    [summary] = [summary for summary in summaries if summary.theme_id == billing.pk]
    assert comment not in summary.quotes
    assert Response.objects.get(pk=quoted.pk).comment == ""
