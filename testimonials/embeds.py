"""What an embed asks for, read totally from its query parameters, and the snippets staff copy.

The same options serve the three embeds: `<script>` (testimonials/static/testimonials/widget.js reads
them from data-* attributes and passes survey, tag and limit on), `<iframe>` and the JSON endpoint.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.utils.html import escape

from hub.cleaning import clean_text, parse_id
from surveys.models import Survey
from testimonials.selectors import EMBED_MAX_ITEMS, EmbedQuery

LAYOUTS = ("carousel", "grid")
THEMES = ("light", "dark")
DEFAULT_ACCENT = "#2f6fed"
_ACCENT = re.compile(r"#[0-9a-fA-F]{6}", re.ASCII)
_SLUG = re.compile(r"[-a-zA-Z0-9_]{1,100}", re.ASCII)
TAG_MAX_LENGTH = 100


class EmbedInvalid(ValueError):
    """A query parameter the embed cannot use; the message says which and why."""


@dataclass(frozen=True)
class EmbedOptions:
    query: EmbedQuery
    survey: Survey | None = None
    layout: str = "carousel"
    theme: str = "light"
    accent: str = DEFAULT_ACCENT


def embed_options_parse(params: dict[str, str]) -> EmbedOptions:
    """The options of an embed from its query parameters; raises EmbedInvalid naming the bad one.
    Absent parameters take their defaults (every survey, no tag, 6 quotes, carousel, light)."""
    survey: Survey | None = None
    wanted = params.get("survey", "")
    if wanted:
        pk = parse_id(wanted)
        if pk is None and not _SLUG.fullmatch(wanted):
            raise EmbedInvalid("survey: give a survey's id or slug.")
        survey = (
            Survey.objects.filter(pk=pk) if pk is not None else Survey.objects.filter(slug=wanted)
        ).first()
        if survey is None:
            raise EmbedInvalid("survey: there is no such survey.")
    limit_text = params.get("limit", "")
    limit = parse_id(limit_text) if limit_text else 6
    if limit is None or not 1 <= limit <= EMBED_MAX_ITEMS:
        raise EmbedInvalid(f"limit: a whole number from 1 to {EMBED_MAX_ITEMS}.")
    tag = clean_text(params.get("tag", ""), max_length=TAG_MAX_LENGTH + 1).strip()
    if len(tag) > TAG_MAX_LENGTH:
        raise EmbedInvalid(f"tag: at most {TAG_MAX_LENGTH} characters.")
    layout = params.get("layout", "") or "carousel"
    if layout not in LAYOUTS:
        raise EmbedInvalid(f"layout: one of {', '.join(LAYOUTS)}.")
    theme = params.get("theme", "") or "light"
    if theme not in THEMES:
        raise EmbedInvalid(f"theme: one of {', '.join(THEMES)}.")
    accent = params.get("accent", "") or DEFAULT_ACCENT
    if not _ACCENT.fullmatch(accent):
        raise EmbedInvalid("accent: a colour as #RRGGBB.")
    query = EmbedQuery(survey_id=survey.pk if survey else None, tag=tag, limit=limit)
    return EmbedOptions(query=query, survey=survey, layout=layout, theme=theme, accent=accent)


@dataclass(frozen=True)
class Snippets:
    script: str
    iframe: str
    json_url: str


def embed_snippets(*, survey: Survey, base_url: str, widget_url: str, accent: str) -> Snippets:
    """The copy-paste code for `survey`'s quotes: a script embed, an iframe embed, the JSON address."""
    accent = accent if _ACCENT.fullmatch(accent or "") else DEFAULT_ACCENT
    options = {"survey": survey.slug, "layout": "carousel", "theme": "light", "accent": accent, "limit": "6"}
    attributes = " ".join(f'data-{name}="{escape(value)}"' for name, value in options.items())
    script = (
        f'<div class="feedback-hub-testimonials" {attributes}></div>\n'
        f'<script src="{escape(widget_url)}" async></script>'
    )
    iframe_url = f"{base_url}/embed/testimonials/?{urlencode({**options, 'layout': 'grid'})}"
    iframe = (
        f'<iframe src="{escape(iframe_url)}" title="What our customers say" loading="lazy" '
        'style="width: 100%; height: 420px; border: 0;"></iframe>'
    )
    json_url = f"{base_url}/embed/testimonials.json?{urlencode({'survey': survey.slug, 'limit': 6})}"
    return Snippets(script=script, iframe=iframe, json_url=json_url)
