"""Each comment gets a sentiment and a language from models shipped in packages; comments in a
language the sentiment model does not cover are "not scored"; a score and comment that disagree are
flagged. It runs right after the comment is saved, and a sweeper catches what that missed."""

from collections.abc import Callable
from typing import Any

import pytest

from insights.models import CommentAnalysis
from insights.services.comments import comments_sweep
from surveys.models import Response
from surveys.services.responses import response_followup_save, response_record
from tests.surveys.factories import invitation_make, person_make, survey_make

pytestmark = pytest.mark.django_db

CaptureOnCommit = Callable[..., Any]


def answer(rating: int, comment: str, *, language: str = "en", capture: CaptureOnCommit) -> Response:
    """A person clicks `rating`, then sends `comment` through the follow-up form; tasks run on commit."""
    invitation = invitation_make(survey=survey_make(slug=f"s{rating}-{len(comment)}"), person=person_make())
    with capture(execute=True):
        response = response_record(invitation=invitation, rating=rating)
    Response.objects.filter(pk=response.pk).update(language=language)
    response.refresh_from_db()
    with capture(execute=True):
        response_followup_save(response=response, comment=comment, tag_ratings={})
    return response


def analysis_of(response: Response) -> CommentAnalysis:
    return CommentAnalysis.objects.get(response=response)


def test_a_saved_comment_is_analysed_right_after_commit(django_capture_on_commit_callbacks: Any) -> None:
    response = answer(
        4,
        "The invoice was wrong twice and support never answered.",
        capture=django_capture_on_commit_callbacks,
    )

    analysis = analysis_of(response)
    assert (analysis.sentiment, analysis.language) == ("negative", "en")
    assert analysis.compound is not None
    assert analysis.compound < -0.05
    assert analysis.flagged is False  # a detractor who is unhappy says what the score says


def test_a_click_without_a_comment_has_no_analysis(django_capture_on_commit_callbacks: Any) -> None:
    invitation = invitation_make(survey=survey_make(), person=person_make())
    with django_capture_on_commit_callbacks(execute=True):
        response = response_record(invitation=invitation, rating=9)

    assert not CommentAnalysis.objects.filter(response=response).exists()


@pytest.mark.parametrize(
    ("rating", "comment", "sentiment", "flagged"),
    [
        (10, "Terrible, the app crashes every day and I lost my data.", "negative", True),
        (9, "Love it, the reports are great.", "positive", False),
        (2, "Great product, I love the new dashboard!", "positive", True),
        (3, "Awful support, very disappointed.", "negative", False),
        (7, "Horrible onboarding, it was painful.", "negative", False),  # passives are never flagged
        (8, "Wonderful team, great help.", "positive", False),
    ],
)
def test_a_score_and_comment_that_disagree_are_flagged(
    rating: int, comment: str, sentiment: str, flagged: bool, django_capture_on_commit_callbacks: Any
) -> None:
    analysis = analysis_of(answer(rating, comment, capture=django_capture_on_commit_callbacks))

    assert (analysis.sentiment, analysis.flagged) == (sentiment, flagged)


@pytest.mark.parametrize(
    ("comment", "language"),
    [
        ("Die Rechnung war falsch und der Kundendienst hat nie geantwortet.", "de"),
        ("La facturation est beaucoup trop chère et le support ne répond jamais.", "fr"),
        ("De rapporten zijn heel traag en de export werkt niet.", "nl"),
    ],
)
def test_a_comment_in_a_language_the_lexicon_does_not_cover_is_not_scored(
    comment: str, language: str, django_capture_on_commit_callbacks: Any
) -> None:
    # A promoter: had the comment been mis-scored, it could have been flagged.
    analysis = analysis_of(answer(10, comment, capture=django_capture_on_commit_callbacks))

    assert (analysis.language, analysis.sentiment, analysis.compound) == (language, "not_scored", None)
    assert analysis.flagged is False


@pytest.mark.parametrize(
    ("survey_language", "language", "sentiment"), [("en", "en", "positive"), ("nl-BE", "nl", "not_scored")]
)
def test_a_comment_too_short_to_tell_takes_the_language_of_the_survey_answered(
    survey_language: str, language: str, sentiment: str, django_capture_on_commit_callbacks: Any
) -> None:
    response = answer(9, "Great!", language=survey_language, capture=django_capture_on_commit_callbacks)

    assert (analysis_of(response).language, analysis_of(response).sentiment) == (language, sentiment)


def test_the_sweeper_analyses_what_the_task_missed_and_redoes_changed_answers() -> None:
    # Saved without the on-commit task running (as when the broker is down).
    invitation = invitation_make(survey=survey_make(), person=person_make())
    response = response_record(invitation=invitation, rating=9)
    response_followup_save(response=response, comment="The export is broken and useless.", tag_ratings={})
    assert not CommentAnalysis.objects.exists()

    assert comments_sweep() == 1
    assert (analysis_of(response).sentiment, analysis_of(response).flagged) == ("negative", True)
    assert comments_sweep() == 0  # nothing left to do

    response_record(invitation=invitation, rating=2)  # the score changes: the flag no longer holds
    assert comments_sweep() == 1
    assert analysis_of(response).flagged is False

    response.refresh_from_db()
    response_followup_save(response=response, comment="", tag_ratings={})  # the comment is taken back
    comments_sweep()
    assert not CommentAnalysis.objects.exists()
