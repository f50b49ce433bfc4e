"""The nightly theme job per survey, and staff's edits of its themes (rename, merge, hide).

A run reads the comments of this period and the one before (`INSIGHTS_THEME_PERIOD_DAYS` each),
finds 6-12 themes (insights/topics.py), puts each comment in its theme and picks two example quotes
per theme from this period.

Staff's edits survive a run because a theme found again keeps its row: the new themes are paired with
the survey's existing ones (active or not) by the cosine similarity of their term weights, the pairing
with the largest total similarity (Hungarian method), and a pair counts only at similarity
`MATCH_MIN_SIMILARITY` or more. A paired theme gets the new terms and quotes and keeps its name,
hidden flag and merge; an unpaired new theme is a new row; an existing theme left unpaired is
inactive until a later run finds it again. When the theme others were merged into is not found but
one of them is, that one takes the group over (the name and hidden flag, and the others merge into it).
"""

import time
from collections.abc import Iterable
from datetime import datetime

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from hub.db import bulk_update
from insights.models import MIN_TERM_COMMENTS, CommentAnalysis, Theme, ThemeRun
from insights.selectors import theme_window
from insights.services.comments import comments_sweep
from insights.topics import ThemeFit, themes_fit, themes_match
from surveys.models import Survey

MATCH_MIN_SIMILARITY = 0.5
QUOTES = 2


def themes_find(*, survey: Survey, now: datetime | None = None) -> ThemeRun:
    """Find the survey's themes in its recent comments and file each comment under one."""
    started = time.monotonic()
    period = theme_window(end=now or timezone.now())
    start, end, previous_start = period.start, period.end, period.before().start
    comments_sweep(survey_id=survey.pk)  # every comment needs its analysis row to be filed
    rows = list(
        CommentAnalysis.objects.filter(
            response__survey=survey,
            response__answered_at__gte=previous_start,
            response__answered_at__lt=end,
        )
        .exclude(response__comment="")
        .order_by("response_id")
        .values_list("response_id", "response__comment", "response__answered_at")
    )
    fit = themes_fit([comment for _, comment, _ in rows], min_term_comments=MIN_TERM_COMMENTS)
    with transaction.atomic():
        # Two runs at once (a second beat by mistake) pair with each other's rows, not duplicate them.
        list(Survey.objects.select_for_update().filter(pk=survey.pk).values_list("pk", flat=True))
        themes = _themes_save(survey=survey, fit=fit, now=end)
        if fit is not None:
            ids = [response_id for response_id, _, _ in rows]
            _comments_file(ids=ids, themes=themes, fit=fit)
            current = np.array([answered_at >= start for _, _, answered_at in rows], dtype=bool)
            _quotes_pick(ids=ids, themes=themes, fit=fit, current=current)
            for index, theme in enumerate(themes):
                theme.comments = int(np.count_nonzero((fit.assignment == index) & current))
            Theme.objects.bulk_update(themes, ["comments"])
        return ThemeRun.objects.create(
            survey=survey,
            ran_at=end,
            period_start=start,
            period_end=end,
            comments=len(rows),
            themes=len(themes),
            seconds=round(time.monotonic() - started, 3),
        )


def _themes_save(*, survey: Survey, fit: ThemeFit | None, now: datetime) -> list[Theme]:
    """The rows of the themes in `fit` (found again, or new), in `fit`'s order; the rest inactive."""
    existing = list(Theme.objects.filter(survey=survey).order_by("pk"))
    found = fit.terms if fit is not None else []
    pairs = themes_match([theme.terms for theme in existing], found, min_similarity=MATCH_MIN_SIMILARITY)
    themes = []
    for index, terms in enumerate(found):
        theme = existing[pairs[index]] if index in pairs else Theme(survey=survey, first_found_at=now)
        theme.terms = [[term, weight] for term, weight in terms]
        theme.active, theme.last_found_at = True, now
        theme.save()
        themes.append(theme)
    kept = {theme.pk for theme in themes}
    Theme.objects.filter(survey=survey).exclude(pk__in=kept).update(active=False, comments=0)
    _groups_repair(survey=survey)
    return themes


def _groups_repair(*, survey: Survey) -> None:
    """A merge whose target was not found again passes to its first member that was."""
    for target in Theme.objects.filter(survey=survey, active=False, merged__active=True).distinct():
        members = list(target.merged.filter(active=True).order_by("pk"))
        heir = members[0]
        heir.merged_into = None
        heir.name = heir.name or target.name
        heir.hidden = heir.hidden or target.hidden
        heir.save(update_fields=["merged_into", "name", "hidden"])
        target.merged.exclude(pk=heir.pk).update(merged_into=heir)
        target.merged_into = heir
        target.save(update_fields=["merged_into"])


def _comments_file(*, ids: list[int], themes: list[Theme], fit: ThemeFit) -> None:
    analyses = [
        CommentAnalysis(response_id=response_id, theme_id=themes[index].pk if index >= 0 else None)
        for response_id, index in zip(ids, fit.assignment.tolist(), strict=True)
    ]
    bulk_update(CommentAnalysis, analyses, ["theme"])


def _quotes_pick(*, ids: list[int], themes: list[Theme], fit: ThemeFit, current: np.ndarray) -> None:
    """Per theme, the two comments of this period most purely about it (the earlier answer on a tie)."""
    for index, theme in enumerate(themes):
        members = np.flatnonzero((fit.assignment == index) & current)
        # lexsort's last key sorts first: strength descending, then position (answer id) ascending.
        best = members[np.lexsort((members, -fit.strength[members]))][:QUOTES]
        theme.quotes.set([ids[i] for i in best.tolist()])


def themes_merge(*, themes: Iterable[Theme], into: Theme) -> int:
    """Count `themes` as part of `into` from now on (and whatever was merged into them); one level
    deep, within one survey. Returns how many themes were merged."""
    merging = [theme for theme in themes if theme.pk != into.pk]
    if into.merged_into_id is not None:
        raise ValidationError(f"{into} is itself merged into another theme")
    if any(theme.survey_id != into.survey_id for theme in merging):
        raise ValidationError("only themes of the same survey can be merged")
    ids = [theme.pk for theme in merging]
    with transaction.atomic():
        Theme.objects.filter(merged_into__in=ids).update(merged_into=into)
        return Theme.objects.filter(pk__in=ids).update(merged_into=into)


def themes_hide(*, themes: Iterable[Theme], hidden: bool) -> int:
    return Theme.objects.filter(pk__in=[theme.pk for theme in themes]).update(hidden=hidden)


def themes_find_due() -> list[int]:
    """The surveys the nightly job looks at: those with a comment in the last two periods."""
    since = theme_window(end=timezone.now()).before().start
    return list(
        Survey.objects.filter(responses__answered_at__gte=since, responses__comment__gt="")
        .distinct()
        .order_by("pk")
        .values_list("pk", flat=True)
    )
