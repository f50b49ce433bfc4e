"""Each comment's sentiment, language and flag (insights/analysis.py), kept in `CommentAnalysis`.

When: right after an answer is saved (`response_saved` enqueues `insights.comment_analyse` on commit),
and the sweeper (beat) for whatever that missed: an enqueue lost while the broker was down, answers
written in bulk. An analysis older than its answer's last change is done again; one of a comment that
is now empty (edited away, erased) is deleted.
"""

import logging
import time
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import F, Q

from customers.models import Person
from hub.db import bulk_update
from insights.analysis import comment_read
from insights.models import CommentAnalysis, Theme
from surveys.models import Response

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500


def comments_analyse(*, responses: Sequence[Response]) -> int:
    """Analyse the comments of `responses` (as read: their `updated_at` becomes the analysis's)."""
    readings = {
        response.pk: comment_read(response.comment, band=response.band, survey_language=response.language)
        for response in responses
        if response.comment
    }
    versions = {response.pk: response.updated_at for response in responses}
    existing = CommentAnalysis.objects.in_bulk(list(readings))
    changed: list[CommentAnalysis] = []
    new: list[CommentAnalysis] = []
    for response_id, reading in readings.items():
        analysis = existing.get(response_id) or CommentAnalysis(response_id=response_id)
        analysis.sentiment, analysis.compound = reading.sentiment, reading.compound
        analysis.language, analysis.flagged = reading.language, reading.flagged
        analysis.analysed_at = versions[response_id]
        (changed if response_id in existing else new).append(analysis)
    with transaction.atomic():
        bulk_update(CommentAnalysis, changed, ["sentiment", "compound", "language", "flagged", "analysed_at"])
        # Another worker may have analysed the same answer meanwhile: same result, keep theirs.
        CommentAnalysis.objects.bulk_create(new, ignore_conflicts=True)
        CommentAnalysis.objects.filter(response__in=[r.pk for r in responses], response__comment="").delete()
    return len(readings)


def comment_analyse(*, response_id: int) -> bool:
    """The task's work: analyse one answer's comment now (False: the answer is gone)."""
    response = Response.objects.filter(pk=response_id).first()
    if response is None:
        return False
    comments_analyse(responses=[response])
    return True


def _due(survey_id: int | None) -> Any:
    due = Response.objects.exclude(comment="").filter(
        Q(analysis__isnull=True) | Q(analysis__analysed_at__lt=F("updated_at"))
    )
    return due.filter(survey_id=survey_id) if survey_id is not None else due


def comments_sweep(*, survey_id: int | None = None, seconds: float | None = None) -> int:
    """Analyse every comment not analysed since its answer last changed (of one survey, or all), for
    at most `seconds` (None: until done), and drop the analyses of emptied comments. Returns how many
    comments were analysed."""
    emptied = CommentAnalysis.objects.filter(response__comment="")
    if survey_id is not None:
        emptied = emptied.filter(response__survey_id=survey_id)
    emptied.delete()
    started, analysed = time.monotonic(), 0
    while seconds is None or time.monotonic() - started < seconds:
        batch = list(_due(survey_id).order_by("pk")[:SWEEP_BATCH])
        if not batch:
            break
        analysed += comments_analyse(responses=batch)
    return analysed


def response_saved(sender: type[Response], instance: Response, **kwargs: Any) -> None:
    """post_save of an answer: analyse its comment once the transaction commits. A click without a
    comment is left alone; an emptied comment still goes, to drop its analysis."""
    update_fields = kwargs.get("update_fields")
    if instance.comment or (update_fields is not None and "comment" in update_fields):
        response_id = instance.pk
        transaction.on_commit(lambda: _enqueue(response_id))


def _enqueue(response_id: int) -> None:
    from insights.tasks import comment_analyse as task

    try:
        task.delay(response_id)
    except Exception:  # the broker is down: the sweeper analyses it later
        logger.warning("could not enqueue the analysis of answer %s; the sweeper will do it", response_id)


def comment_analyses_erase(*, person: Person, **kwargs: Any) -> dict[str, int]:
    """Erasure (hub/pipeline.py PERSON_ERASE_HOOKS): what was derived from the person's comments goes
    with them: their analyses and their places among the themes' example quotes. The surveys step
    before this one has emptied their comments and unlinked their answers, so the answers are found
    by their emptied comment too."""
    theirs = Q(response__person=person) | Q(response__comment="")
    analyses, _ = CommentAnalysis.objects.filter(theirs).delete()
    quotes, _ = Theme.quotes.through.objects.filter(theirs).delete()
    return {"comment_analyses_erased": analyses, "theme_quotes_erased": quotes}
