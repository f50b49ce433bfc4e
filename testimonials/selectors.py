"""Read-only queries about testimonials: whether an answer is asked for a quote, its consent wording,
and what an embed shows (each survey's page and the public endpoints read these)."""

from dataclasses import dataclass
from typing import Any

from customers.selectors import person_suppression_keys, suppressions_for
from surveys.models import Response, Survey
from testimonials.models import DEFAULT_CONSENT_TEXT, Testimonial, TestimonialSettings

EMBED_MAX_ITEMS = 50
# An embed filters by tag among at most this many approved quotes (newest first).
TAG_SCAN_LIMIT = 1000


def testimonial_settings_of(*, survey: Survey) -> TestimonialSettings:
    """The survey's settings, or the defaults (promoters asked, English wording) when it has none."""
    found = TestimonialSettings.objects.filter(survey=survey).first()
    return found or TestimonialSettings(survey=survey)


def consent_wording(*, survey: Survey, language: str) -> str:
    """The consent text as the page in `language` shows it ({company} replaced)."""
    settings = testimonial_settings_of(survey=survey)
    translations = settings.consent_translations if isinstance(settings.consent_translations, dict) else {}
    lowered = {str(k).lower(): v for k, v in translations.items() if isinstance(v, str) and v.strip()}
    language = (language or "").lower()
    text = lowered.get(language) or lowered.get(language.split("-")[0]) or settings.consent_text
    text = text.strip() or DEFAULT_CONSENT_TEXT
    return text.replace("{company}", survey.company_name or "We")


def consent_asked(*, response: Response) -> bool:
    """Whether this answer's thank-you page asks for a quote: its band is one the survey asks, it has
    a comment, its person is known and not suppressed (unsubscribed, bounced, erased)."""
    person = response.person
    if person is None or not response.comment.strip():
        return False
    bands = testimonial_settings_of(survey=response.survey).bands
    if not isinstance(bands, list) or response.band not in bands:
        return False
    return not suppressions_for(person_suppression_keys(person)).first(person_suppression_keys(person))


@dataclass(frozen=True)
class EmbedQuery:
    """What an embed asks for: a survey (or every survey), a staff tag, how many."""

    survey_id: int | None = None
    tag: str = ""
    limit: int = 6


def testimonials_shown(*, query: EmbedQuery) -> list[dict[str, Any]]:
    """The quotes an embed shows, featured first, then the latest approved: only approved ones, whose
    person gave consent and did not withdraw it (withdrawal and erasure take them out of this list)."""
    rows = Testimonial.objects.filter(status=Testimonial.Status.APPROVED).exclude(quote="")
    if query.survey_id is not None:
        rows = rows.filter(survey_id=query.survey_id)
    rows = rows.select_related("response").order_by("-featured", "-approved_at", "-pk")
    limit = max(1, min(query.limit, EMBED_MAX_ITEMS))
    if query.tag:
        wanted = query.tag.casefold()
        candidates = rows[:TAG_SCAN_LIMIT]
        chosen = [t for t in candidates if wanted in {str(tag).casefold() for tag in t.tags or ()}][:limit]
    else:
        chosen = list(rows[:limit])
    return [
        {
            "id": t.pk,
            "quote": t.quote,
            "name": t.display_name,
            "company": t.company,
            "rating": t.response.rating,
            "featured": t.featured,
        }
        for t in chosen
    ]
