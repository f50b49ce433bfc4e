"""Read-only queries about surveys, shared by the admin and the API."""

from typing import Any

from django.db.models import Count, IntegerField, Model, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from customers.models import Person
from hub.cleaning import parse_id
from surveys.models import SCORE_BANDS, Invitation, Response, Survey


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
        promoter_count=_count_per_survey(Response, rating__range=SCORE_BANDS["promoter"]),
        detractor_count=_count_per_survey(Response, rating__range=SCORE_BANDS["detractor"]),
    )


def survey_nps(survey: Survey) -> int | None:
    """Promoters % minus detractors %, from `surveys_with_stats`' columns; None before any response."""
    responses = getattr(survey, "response_count", 0)
    if not responses:
        return None
    return round(100 * (survey.promoter_count - survey.detractor_count) / responses)  # type: ignore[attr-defined]


def survey_setup_gaps(*, survey: Survey) -> list[str]:
    """What keeps a survey from asking anyone, in words for the top of its admin page."""
    gaps = []
    if (
        not survey.triggers.filter(enabled=True).exists()
        and not survey.collectors.filter(enabled=True).exists()
    ):
        gaps.append(
            "This survey has no enabled trigger or collector, so it never asks anyone: add a trigger "
            "(which calls make it consider a person) or a collector (Surveys → Collectors)."
        )
    if not survey.automation_enabled:
        gaps.append("Automation is off: it sends nothing until 'automation enabled' is ticked.")
    return gaps


def answers_after_outer() -> Q:
    """Answers given after the outer query's answer (`OuterRef`): later, or at the same moment with a
    higher id. The one order of a person's answers: a later one supersedes (surveys.services.responses
    answers_supersede) and makes the earlier not the latest (the sync-back's `is_newer`)."""
    return Q(answered_at__gt=OuterRef("answered_at")) | Q(
        answered_at=OuterRef("answered_at"), pk__gt=OuterRef("pk")
    )


def responses_in_band(queryset: QuerySet[Response], *, band: str) -> QuerySet[Response]:
    """The responses of one NPS band ("promoter", "passive", "detractor"); all of them for another word."""
    if band not in SCORE_BANDS:
        return queryset
    return queryset.filter(rating__range=SCORE_BANDS[band])


def survey_languages(*, survey: Survey) -> list[str]:
    """The languages a survey speaks: the default language first, then each translation's."""
    languages = [survey.default_language]
    for translation in survey.translations.order_by("language"):
        if translation.language not in languages:
            languages.append(translation.language)
    return languages


def survey_people_find(*, survey: Survey, query: str = "", person_id: str = "") -> list[Person]:
    """The person with id `person_id`, or else the people whose userId or email is `query`, those
    of the survey's trigger sources first (at most 20)."""
    pk = parse_id(person_id)
    if pk is not None:
        return list(Person.objects.filter(pk=pk).select_related("source"))
    if not query:
        return []
    sources = set(survey.triggers.values_list("source_id", flat=True))
    found = Person.objects.filter(Q(user_id=query) | Q(email=query.lower())).select_related("source")[:20]
    return sorted(found, key=lambda p: (p.source_id not in sources, p.pk))


def person_invitations(*, person: Person, limit: int) -> list[Invitation]:
    """A person's latest invitations, with their survey and answer."""
    invitations = Invitation.objects.filter(person=person).select_related("survey", "response")
    return list(invitations.order_by("-due_at")[:limit])
