"""The words a person sees: the survey's texts in their language, with {{ company }} filled in."""

from dataclasses import dataclass

from surveys.models import PLACEHOLDER, Survey, SurveyTexts, SurveyTranslation, score_band

DEFAULT_TEXTS = {
    "subject": "How likely are you to recommend {{ company }}?",
    "question": "How likely are you to recommend {{ company }} to a friend or colleague?",
    "low_label": "Not at all likely",
    "high_label": "Extremely likely",
    "followup_detractor": "What could we do better?",
    "followup_passive": "What would make you more enthusiastic about us?",
    "followup_promoter": "What do you like most about us?",
    "thank_you": "Thank you for your feedback!",
    "footer": "",
}


@dataclass(frozen=True)
class Texts:
    language: str
    subject: str
    question: str
    low_label: str
    high_label: str
    followup_detractor: str
    followup_passive: str
    followup_promoter: str
    thank_you: str
    footer: str

    def followup(self, rating: int) -> str:
        return str(getattr(self, f"followup_{score_band(rating)}"))


def _translation_for(survey: Survey, language: str) -> SurveyTranslation | None:
    """The translation for "nl-BE", else "nl", else none (the survey's default texts)."""
    language = (language or "").lower()
    if not language:
        return None
    candidates = [language, language.split("-")[0]]
    by_language = {t.language.lower(): t for t in survey.translations.all()}
    for candidate in candidates:
        if candidate in by_language:
            return by_language[candidate]
    return None


def survey_texts(*, survey: Survey, language: str = "") -> Texts:
    """Every text of `survey` for a person whose language is `language`, fallbacks applied."""
    translation = _translation_for(survey, language)
    company = survey.company_name or "us"
    values: dict[str, str] = {}
    for name in SurveyTexts.TEXT_FIELDS:
        text = (
            (getattr(translation, name, "") if translation else "")
            or getattr(survey, name)
            or DEFAULT_TEXTS[name]
        )
        # The placeholders the texts were validated against (surveys.models.PLACEHOLDERS).
        values[name] = PLACEHOLDER.sub(lambda m: company if m[1] == "company" else m[0], text)
    return Texts(language=translation.language if translation else survey.default_language, **values)
