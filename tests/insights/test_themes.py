"""The nightly theme job finds the topics of a survey's comments as themes, with the right shares by
band and change from the period before, deterministically; staff's edits survive the next run."""

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from insights.models import CommentAnalysis, Theme, ThemeRun
from insights.selectors import BANDS, Window, themes_for
from insights.services.themes import themes_find, themes_hide, themes_merge
from insights.tasks import themes_find_all
from surveys.models import Survey
from tests.insights.corpus import Comment, topic_comments_make
from tests.insights.texts import TOPICS, topic_of
from tests.surveys.factories import survey_make
from tests.threads import in_threads

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)
PERIOD = Window(start=NOW - timedelta(days=30), end=NOW)


def themes_by_topic(survey: Survey) -> dict[str, Theme]:
    found = {topic_of(theme.terms): theme for theme in Theme.objects.filter(survey=survey, active=True)}
    return {topic: theme for topic, theme in found.items() if topic is not None}


def expected_shares(comments: list[Comment], topics: set[str], window: Window) -> dict[str, float | None]:
    """From what the corpus generator wrote: the part of each band's comments in `window` that are about
    `topics`."""
    in_period = [comment for comment in comments if window.start <= comment.answered_at < window.end]
    totals = Counter(comment.band for comment in in_period)
    about = Counter(comment.band for comment in in_period if comment.topic in topics)
    return {band: (about[band] / totals[band] if totals[band] else None) for band in BANDS}


@pytest.fixture
def survey() -> Survey:
    return survey_make()


def test_the_topics_of_the_comments_come_back_as_themes(survey: Survey) -> None:
    comments = topic_comments_make(survey, now=NOW)

    run = themes_find(survey=survey, now=NOW)

    assert run.themes == 6
    assert run.comments == len(comments)
    by_topic = themes_by_topic(survey)
    assert set(by_topic) == set(TOPICS)
    # Every comment is filed under its topic's theme, and every theme has two quotes about it.
    filed = dict(CommentAnalysis.objects.values_list("response_id", "theme_id"))
    assert all(filed[comment.response_id] == by_topic[comment.topic].pk for comment in comments)
    for topic, theme in by_topic.items():
        quotes = [quote.comment.lower() for quote in theme.quotes.all()]
        assert len(quotes) == 2
        assert all(any(word in quote for word in TOPICS[topic]) for quote in quotes)


def test_each_themes_share_by_band_and_its_change_are_right(survey: Survey) -> None:
    comments = topic_comments_make(survey, now=NOW)
    themes_find(survey=survey, now=NOW)

    summaries = {summary.theme_id: summary for summary in themes_for(survey=survey, period=PERIOD)}

    for topic, theme in themes_by_topic(survey).items():
        shares = summaries[theme.pk].shares
        now, before = (expected_shares(comments, {topic}, window) for window in (PERIOD, PERIOD.before()))
        assert shares.shares == pytest.approx(now)
        assert shares.previous == pytest.approx(before)
        for band in BANDS:
            assert shares.change(band) == pytest.approx(round(100 * (now[band] - before[band]), 1))  # type: ignore[operator]
    billing = summaries[themes_by_topic(survey)["billing"].pk].shares
    assert billing.previous["detractor"] == 0
    assert (billing.change("detractor") or 0) > 0


def test_staff_edits_survive_the_next_run(survey: Survey) -> None:
    comments = topic_comments_make(survey, now=NOW)
    themes_find(survey=survey, now=NOW)
    first = themes_by_topic(survey)
    Theme.objects.filter(pk=first["billing"].pk).update(name="Invoices")
    themes_hide(themes=[first["mobile"]], hidden=True)
    themes_merge(themes=[first["onboarding"]], into=first["reports"])

    # A day later, with new comments (and another ordering of the same topics) in the mix.
    later = NOW + timedelta(days=1)
    comments += topic_comments_make(survey, now=later, current=60, previous=0, seed=99)
    themes_find(survey=survey, now=later)

    second = themes_by_topic(survey)
    assert {topic: theme.pk for topic, theme in second.items()} == {topic: t.pk for topic, t in first.items()}
    assert second["billing"].name == "Invoices"
    assert second["mobile"].hidden
    assert second["onboarding"].merged_into_id == first["reports"].pk
    assert Theme.objects.filter(survey=survey).count() == 6
    # What a report shows: the new name; no hidden theme; a merged theme counted in its target.
    period = Window(start=later - timedelta(days=30), end=later)
    shown = {summary.theme_id: summary for summary in themes_for(survey=survey, period=period)}
    assert set(shown) == {first[topic].pk for topic in ("billing", "support", "speed", "reports")}
    assert shown[first["billing"].pk].label == "Invoices"
    reports = shown[first["reports"].pk].shares
    assert reports.shares == pytest.approx(expected_shares(comments, {"reports", "onboarding"}, period))


def test_the_same_comments_give_the_same_themes(survey: Survey) -> None:
    topic_comments_make(survey, now=NOW)
    twin = survey_make(slug="twin", name="Twin")
    topic_comments_make(twin, now=NOW)

    themes_find(survey=survey, now=NOW)
    themes_find(survey=twin, now=NOW)

    assert [t.terms for t in Theme.objects.filter(survey=survey)] == [
        t.terms for t in Theme.objects.filter(survey=twin)
    ]


def test_too_few_comments_find_no_theme_and_keep_staffs_themes(survey: Survey) -> None:
    topic_comments_make(survey, now=NOW)
    themes_find(survey=survey, now=NOW)
    Theme.objects.filter(survey=survey).update(name="kept")

    run = themes_find(survey=survey, now=NOW + timedelta(days=90))  # everything is older than two periods

    assert (run.comments, run.themes) == (0, 0)
    assert themes_for(survey=survey, period=PERIOD) == []
    assert set(Theme.objects.filter(survey=survey).values_list("name", flat=True)) == {"kept"}
    assert ThemeRun.objects.filter(survey=survey).count() == 2


def test_the_nightly_task_runs_the_job_for_each_survey_with_recent_comments(survey: Survey) -> None:
    topic_comments_make(survey)
    quiet = survey_make(slug="quiet", name="Quiet")

    assert themes_find_all.delay().get() == 1  # tasks run inline in tests

    assert list(ThemeRun.objects.values_list("survey", "themes")) == [(survey.pk, 6)]
    assert not ThemeRun.objects.filter(survey=quiet).exists()


def test_a_merge_whose_target_is_not_found_again_passes_to_a_member_that_is(survey: Survey) -> None:
    topic_comments_make(survey, now=NOW)
    themes_find(survey=survey, now=NOW)
    first = themes_by_topic(survey)
    Theme.objects.filter(pk=first["reports"].pk).update(name="Reports and setup")
    themes_merge(themes=[first["onboarding"]], into=first["reports"])

    # Two periods later nobody writes about reports any more.
    later = NOW + timedelta(days=61)
    without_reports = tuple(topic for topic in TOPICS if topic != "reports")
    topic_comments_make(survey, now=later, current=200, previous=0, seed=5, topics=without_reports)
    themes_find(survey=survey, now=later)

    reports, onboarding = (Theme.objects.get(pk=first[topic].pk) for topic in ("reports", "onboarding"))
    assert not reports.active
    assert onboarding.active
    assert onboarding.merged_into_id is None
    assert onboarding.name == "Reports and setup"
    shown = themes_for(survey=survey, period=Window(start=later - timedelta(days=30), end=later))
    assert "Reports and setup" in [summary.label for summary in shown]


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_find_the_themes_once() -> None:
    survey = survey_make()
    topic_comments_make(survey, now=NOW)

    def run() -> None:
        themes_find(survey=survey, now=NOW)

    in_threads(run, run)  # raises what a run raised

    assert Theme.objects.filter(survey=survey).count() == 6
    assert ThemeRun.objects.filter(survey=survey, themes=6).count() == 2
