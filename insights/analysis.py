"""What one comment says: its language, its sentiment, and whether it contradicts its score. Pure.

Both models ship inside their packages and load from disk on first use; nothing is downloaded:
- language: py3langid (langid.py's naive Bayes model over byte n-grams, 140 languages, deterministic);
- sentiment: VADER (vaderSentiment), an English lexicon with rules for negation, intensity and emphasis.
  It covers English only, so a comment in any other language is "not scored" rather than mis-scored
  (VADER's own translation step calls a web service; it is never used).
"""

from dataclasses import dataclass
from functools import cache
from typing import Any

# Languages the sentiment lexicon covers (ISO 639-1).
SCORED_LANGUAGES = frozenset({"en"})
# Below this probability (normalised over the 140 languages) the detector is guessing: short comments
# ("Great!", "ok") look like many languages. The language of the survey the person answered is then
# the better bet.
LANGUAGE_MIN_PROBABILITY = 0.2
# VADER's documented thresholds on the compound score.
POSITIVE_FROM, NEGATIVE_FROM = 0.05, -0.05


@dataclass(frozen=True)
class CommentReading:
    language: str  # ISO 639-1, "" when unknown
    sentiment: str  # positive, neutral, negative or not_scored
    compound: float | None
    flagged: bool


@cache
def _language_identifier() -> Any:
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@cache
def _sentiment_analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def models_load() -> None:
    """Load both models now instead of on the first comment (each loads once per process)."""
    _language_identifier()
    _sentiment_analyzer()


def primary_language(code: str) -> str:
    """ "en-GB" -> "en"; "" stays ""."""
    return code.split("-", 1)[0].lower()


def language_detect(text: str, *, fallback: str = "") -> str:
    """The ISO 639-1 language of `text`; `fallback` (e.g. the survey's language) when unsure."""
    language, probability = _language_identifier().classify(text)
    if probability >= LANGUAGE_MIN_PROBABILITY:
        return str(language)
    return primary_language(fallback)


def sentiment_of(compound: float) -> str:
    if compound >= POSITIVE_FROM:
        return "positive"
    if compound <= NEGATIVE_FROM:
        return "negative"
    return "neutral"


def comment_read(comment: str, *, band: str, survey_language: str = "") -> CommentReading:
    """Language, sentiment and flag of a non-empty `comment` given with a score in `band`
    (promoter, passive or detractor)."""
    language = language_detect(comment, fallback=survey_language)
    if language not in SCORED_LANGUAGES:
        return CommentReading(language=language, sentiment="not_scored", compound=None, flagged=False)
    compound = float(_sentiment_analyzer().polarity_scores(comment)["compound"])
    sentiment = sentiment_of(compound)
    flagged = (band, sentiment) in {("promoter", "negative"), ("detractor", "positive")}
    return CommentReading(language=language, sentiment=sentiment, compound=compound, flagged=flagged)
