"""What a person's answers do: the one-click rating, the follow-up, and unsubscribing.

The public pages (surveys/views.py) only validate the request and call these.
"""

from collections.abc import Mapping

from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from customers.models import Suppression
from customers.services.suppressions import suppressions_record
from hub.db import advisory_locks
from hub.pipeline import PERSON_UNSUBSCRIBE_HOOKS, pipeline_functions
from surveys.models import Invitation, Response
from surveys.selectors import answers_after_outer
from surveys.services.content import survey_texts
from surveys.services.events import person_unsubscribed_emit, response_changed_emit

CLOSED = (Invitation.Status.EXPIRED, Invitation.Status.CANCELLED)
COMMENT_MAX_LENGTH = 5000


class SurveyClosed(Exception):
    """The invitation takes no more answers: it expired, was cancelled, or its person was erased."""


def invitation_is_open(*, invitation: Invitation) -> bool:
    return invitation.status not in CLOSED and invitation.person_id is not None


def _invitation_lock(invitation: Invitation) -> Invitation:
    """The invitation, re-read under a row lock so that two clicks at once answer one after the other."""
    locked = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("survey", "person")
        .get(pk=invitation.pk)
    )
    if not invitation_is_open(invitation=locked):
        raise SurveyClosed(locked.status)
    return locked


def _next_answer(**same: OuterRef) -> Subquery:
    """The time of the outer answer's person's next answer (the next by answered_at, then by id) among
    their answers with the `same` values: an index probe per answer (response_survey_person, or
    response_person_next when any survey counts)."""
    return Subquery(
        Response.objects.filter(answers_after_outer(), person=OuterRef("person"), **same)
        .order_by("answered_at", "pk")
        .values("answered_at")[:1]
    )


def answers_supersede(answers: QuerySet[Response]) -> int:
    """Set `superseded_at` on `answers`, the time of the same person's next answer to the same survey,
    and `hub_superseded_at`, of their next answer to any survey; None on each person's latest answer
    and on an erased person's answers. One UPDATE.

    The reports count each person's latest answer in a period as the answers whose next answer came
    after the period (insights/services/reports.py: a survey's by `superseded_at`, the hub-wide one by
    `hub_superseded_at`), so whatever adds answers or moves them to another person calls this on the
    answers whose next answer may have changed.
    """
    return answers.update(
        superseded_at=_next_answer(survey=OuterRef("survey")), hub_superseded_at=_next_answer()
    )


def answer_supersede(answer: Response) -> None:
    """After `answer` was added: it and its person's answers that were latest (in its survey, or in
    any), or whose next answer came after it, get their next answers anew. The lock makes a second new
    answer's transaction wait and then see this one's, so two answers at once cannot both stay the
    latest."""
    advisory_locks([f"answers:{answer.person_id}"])
    after = answer.answered_at
    answers_supersede(
        Response.objects.filter(person=answer.person).filter(
            Q(hub_superseded_at__isnull=True)
            | Q(hub_superseded_at__gt=after)
            | Q(survey=answer.survey, superseded_at__isnull=True)
            | Q(survey=answer.survey, superseded_at__gt=after)
        )
    )


def response_record(*, invitation: Invitation, rating: int) -> Response:
    """Record (or change) the 0-10 rating: one click in the email is a response.

    A second click updates the same Response; the invitation becomes `responded` on the first.
    `rated_at` is the time of the answer that gave the rating now held (the sync-back's NPS_date).
    """
    if not 0 <= rating <= 10:
        raise ValueError(f"rating {rating} is not between 0 and 10")
    with transaction.atomic():
        invitation = _invitation_lock(invitation)
        person = invitation.person
        assert person is not None  # _invitation_lock refuses erased people
        language = survey_texts(
            survey=invitation.survey, language=person.language or invitation.language
        ).language
        # The lock serialises clicks on PostgreSQL (SQLite serialises writers anyway); get_or_create
        # also survives a concurrent insert through its IntegrityError fallback.
        now = timezone.now()
        response, created = Response.objects.get_or_create(
            invitation=invitation,
            defaults={
                "survey": invitation.survey,
                "person": person,
                "rating": rating,
                "language": language,
                "answered_at": now,
                "rated_at": now,
            },
        )
        if not created and response.rating != rating:
            previous = response.rating
            response.rating, response.rated_at = rating, now
            response.save(update_fields=["rating", "rated_at", "updated_at"])
            response_changed_emit(response=response, created=False, previous_rating=previous)
        elif created:
            answer_supersede(response)
            response_changed_emit(response=response, created=True)
        if invitation.status != Invitation.Status.RESPONDED or invitation.responded_at is None:
            invitation.status = Invitation.Status.RESPONDED
            invitation.responded_at = invitation.responded_at or response.answered_at
            invitation.save(update_fields=["status", "responded_at"])
    return response


def tag_ratings_problems(
    *, survey_tags: list[str], tag_scale: int, tag_ratings: Mapping[str, int]
) -> list[str]:
    problems = [f"{tag!r} is not a tag of this survey" for tag in tag_ratings if tag not in survey_tags]
    problems += [
        f"{tag!r} is rated {value!r}, not 1 to {tag_scale}"
        for tag, value in tag_ratings.items()
        if not (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= tag_scale)
    ]
    return problems


def response_followup_save(*, response: Response, comment: str, tag_ratings: Mapping[str, int]) -> Response:
    """Store the answer to the follow-up question and the tag ratings (those given replace earlier ones)."""
    survey = response.survey
    problems = tag_ratings_problems(
        survey_tags=survey.tags, tag_scale=survey.tag_scale, tag_ratings=tag_ratings
    )
    if problems:
        raise ValueError("; ".join(problems))
    if len(comment) > COMMENT_MAX_LENGTH:
        raise ValueError(f"the comment is longer than {COMMENT_MAX_LENGTH} characters")
    with transaction.atomic():
        _invitation_lock(response.invitation)
        # As stored, not as the caller read it.
        response.refresh_from_db(fields=["rating", "comment", "comment_band", "tag_ratings"])
        # The comment now answers the question of the current score's band (shown with it on the page).
        band = response.band if comment.strip() else ""
        # The same form sent again is no news: updated_at stays, so neither hub events nor the
        # sync-back (which follows updated_at) report it again.
        if (response.comment, response.comment_band, response.tag_ratings) == (
            comment.strip(),
            band,
            dict(tag_ratings),
        ):
            return response
        response.comment = comment.strip()
        response.comment_band = band
        response.tag_ratings = dict(tag_ratings)
        response.save(update_fields=["comment", "comment_band", "tag_ratings", "updated_at"])
        response_changed_emit(response=response, created=False)
    return response


def person_unsubscribe(*, invitation: Invitation) -> int:
    """The person of `invitation` wants no more surveys, of any kind: suppress their email address
    hub-wide (every source and collector) and their user id in their source, and cancel the pending
    invitations of either; later stages' hooks (hub/pipeline.py) withdraw what else they hold, e.g.
    testimonials. Idempotent; returns how many were cancelled."""
    person = invitation.person
    if person is None:  # erased: suppressed already, nothing left to cancel
        return 0
    same_person = Q(person=person)
    if person.email:
        # Any record with this email, in any source, is the same mailbox, suppressed alike.
        same_person |= Q(person__email=person.email)
    with transaction.atomic():
        new = suppressions_record(
            reason=Suppression.Reason.UNSUBSCRIBED,
            source_id=person.source_id,
            user_ids=[person.user_id or ""],
            emails=[person.email],
        )
        cancelled = (
            Invitation.objects.filter(same_person, status__in=Invitation.OPEN)
            .exclude(pk=invitation.pk)
            .update(status=Invitation.Status.CANCELLED, error="unsubscribed")
        )
        for hook in pipeline_functions(PERSON_UNSUBSCRIBE_HOOKS):
            hook(person=person)
        if new:
            person_unsubscribed_emit(
                person=person, invitation=invitation, suppression=new[0], cancelled=cancelled
            )
        return cancelled
