"""Who may be surveyed, and when: the one copy of the rules.

`eligibility_decide` is pure: it gets the survey, the person and their survey history, and returns a
`Decision` with every rule's verdict in words. The trigger handler uses it to schedule invitations,
the dispatcher to re-check before sending, and the admin and API to explain "why (not) surveyed".

Callexa's delay semantics (shared/reference/vendors.md):
- min 3 / max 14: a new customer is surveyed 3 days after createdAt; a customer created more than
  14 days ago is ignored;
- max 0: every trigger may survey, unless the person was surveyed within the re-survey interval;
- no createdAt: behaves as max 0.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Max, Q

from customers.models import Person, Suppression
from customers.selectors import person_suppression_keys, suppressions_for
from hub.timeparse import shifted
from surveys.models import Invitation, Survey, SurveyPolicy
from surveys.services.windows import send_window_describe, send_window_next

# Invitations that count as "surveyed" for the re-survey interval and the global cap when deciding
# whether to schedule; at send time only DELIVERED ones count (the one being sent must not block itself).
DELIVERED = [Invitation.Status.SENT, Invitation.Status.RESPONDED, Invitation.Status.EXPIRED]
COUNTED = [
    Invitation.Status.SCHEDULED,
    Invitation.Status.SENDING,
    Invitation.Status.SENT,
    Invitation.Status.RESPONDED,
    Invitation.Status.EXPIRED,
]


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _days(delta: timedelta) -> str:
    days = delta.days
    return "today" if days < 1 else "1 day ago" if days == 1 else f"{days} days ago"


def _weeks(days: int) -> str:
    return f"{days // 7} weeks" if days % 7 == 0 else f"{days} days"


@dataclass
class History:
    """What the rules need to know beyond the person: past invitations and suppressions."""

    last_for_survey: datetime | None = None  # latest counted invitation of this survey
    last_any: datetime | None = None  # latest counted invitation of any survey
    open_due_at: datetime | None = None  # a scheduled/sending invitation of this survey
    suppression: Suppression | None = None  # what keeps the person from every survey, if anything


@dataclass
class Decision:
    """The verdict for one person and one survey at one moment."""

    eligible: bool
    send_at: datetime | None = None
    next_eligible_at: datetime | None = None
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "eligible": self.eligible,
            "send_at": self.send_at,
            "next_eligible_at": self.next_eligible_at,
            "reasons": self.reasons,
        }


def eligibility_decide(
    *,
    survey: Survey,
    person: Person,
    history: History,
    now: datetime,
    global_cap_days: int = 0,
    dispatching: bool = False,
) -> Decision:
    """Decide whether `person` may get `survey` now, and when it would be sent.

    `dispatching=True` is the re-check at send time: the person's own scheduled invitation is not
    a reason against, and the delay window is not re-applied (it fixed the due time already).
    """
    reasons: list[str] = []

    def no(reason: str, next_at: datetime | None = None) -> Decision:
        return Decision(False, None, next_at, [*reasons, reason])

    if not survey.automation_enabled:
        return no("automation is off for this survey")
    if history.suppression is not None:
        return no(f"suppressed: {history.suppression.described}")
    if not person.email:
        return no("no valid email address")
    if history.open_due_at is not None and not dispatching:
        return no(f"already scheduled for {_when(history.open_due_at)}")

    interval = timedelta(days=survey.resurvey_interval_days)
    if history.last_for_survey is not None and survey.resurvey_interval_days:
        until = history.last_for_survey + interval
        if until > now:
            return no(
                f"surveyed {history.last_for_survey:%Y-%m-%d}, "
                f"interval {_weeks(survey.resurvey_interval_days)}",
                until,
            )
        reasons.append(f"last surveyed {history.last_for_survey:%Y-%m-%d}, interval passed")
    if global_cap_days and history.last_any is not None:
        until = history.last_any + timedelta(days=global_cap_days)
        if until > now:
            return no(
                f"global cap: a survey on {history.last_any:%Y-%m-%d}, "
                f"at most one per {global_cap_days} days",
                until,
            )

    earliest = now
    if dispatching:
        pass
    elif person.created_at is None:
        reasons.append("no createdAt: the delay window does not apply (as max delay 0)")
    else:
        age = now - person.created_at
        if survey.max_delay_days and age > timedelta(days=survey.max_delay_days):
            closed = shifted(person.created_at, timedelta(days=survey.max_delay_days))
            return no(
                f"max delay: created {_days(age)}, after the {survey.max_delay_days}-day window "
                f"(closed {_when(closed)})"
            )
        # createdAt comes from outside: any moment hub.timeparse holds, up to the year 9999.
        from_at = shifted(person.created_at, timedelta(days=survey.min_delay_days))
        if from_at > now:
            earliest = from_at
            reasons.append(f"min delay: created {_days(age)}, eligible from {_when(from_at)}")
        elif survey.min_delay_days or survey.max_delay_days:
            reasons.append(f"delay window: created {_days(age)}, inside the window")

    send_at = send_window_next(survey=survey, at=earliest, person_timezone=person.timezone)
    if send_at != earliest:
        window = send_window_describe(survey=survey, person_timezone=person.timezone)
        reasons.append(f"send window {window}: deferred to {_when(send_at)}")
    reasons.append(f"eligible: send at {_when(send_at)}")
    return Decision(True, send_at, None, reasons)


def histories_load(
    *, surveys: Iterable[Survey], people: Iterable[Person], counted: Sequence[str] = COUNTED
) -> dict[tuple[int, int], History]:
    """History for every (survey, person) pair, in a few queries whatever the number of people.

    `counted`: the invitation states that count as surveyed (DELIVERED for the send-time re-check).
    """
    survey_ids = [s.pk for s in surveys]
    people = list(people)
    person_ids = [p.pk for p in people]
    histories: dict[tuple[int, int], History] = {(s, p): History() for s in survey_ids for p in person_ids}
    if not person_ids:
        return histories
    # One query: per person and survey (every survey, for the global cap), the latest counted
    # invitation and the open one (the partial unique index allows one per survey and person).
    surveyed = Q(status__in=counted)
    rows = (
        Invitation.objects.filter(person_id__in=person_ids, status__in={*counted, *Invitation.OPEN})
        .order_by()
        .values("person_id", "survey_id")
        .annotate(
            last=Max("due_at", filter=surveyed), open=Max("due_at", filter=Q(status__in=Invitation.OPEN))
        )
        .values_list("person_id", "survey_id", "last", "open")
    )
    last_any: dict[int, datetime] = {}
    for person_id, survey_id, last, open_due_at in rows:
        if last is not None and (person_id not in last_any or last > last_any[person_id]):
            last_any[person_id] = last
        history = histories.get((survey_id, person_id))
        if history is not None:
            history.last_for_survey = last
            history.open_due_at = open_due_at
    found = suppressions_for(key for person in people for key in person_suppression_keys(person))
    suppressed = {person.pk: found.first(person_suppression_keys(person)) for person in people}
    for (_, person_id), history in histories.items():
        history.last_any = last_any.get(person_id)
        history.suppression = suppressed[person_id]
    return histories


def eligibility_explain(*, survey: Survey, person: Person, now: datetime) -> Decision:
    """The decision the hub would make now, for the admin's and the API's "why (not) surveyed"."""
    history = histories_load(surveys=[survey], people=[person])[(survey.pk, person.pk)]
    return eligibility_decide(
        survey=survey,
        person=person,
        history=history,
        now=now,
        global_cap_days=SurveyPolicy.current().global_cap_days,
    )
