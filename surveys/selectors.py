"""Read-only queries about surveys, shared by the admin and the API."""

from typing import Any

from django.db.models import Count, IntegerField, Model, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from surveys.models import Invitation, Response, Survey


def _count_per_survey(model: type[Model], **filters: Any) -> Coalesce:
    rows = (
        model._default_manager.filter(survey=OuterRef("pk"), **filters)
        .order_by()
        .values("survey")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


def surveys_with_stats(queryset: QuerySet[Survey]) -> QuerySet[Survey]:
    """Invitations sent, responses, promoters and detractors per survey, as columns of the one query
    that lists the surveys (subqueries, so the list costs the same whatever the number of rows)."""
    return queryset.annotate(
        sent_count=_count_per_survey(Invitation, sent_at__isnull=False),
        response_count=_count_per_survey(Response),
        promoter_count=_count_per_survey(Response, rating__gte=9),
        detractor_count=_count_per_survey(Response, rating__lte=6),
    )


def survey_nps(survey: Survey) -> int | None:
    """Promoters % minus detractors %, from `surveys_with_stats`' columns; None before any response."""
    responses = getattr(survey, "response_count", 0)
    if not responses:
        return None
    return round(100 * (survey.promoter_count - survey.detractor_count) / responses)  # type: ignore[attr-defined]
