"""Triggers: which processed calls make a survey consider a person, and scheduling the invitation.

`surveys_process_events` is the second handler of the pipeline (hub/pipeline.py), after the customer
records one, so the person it reads is up to date. Per batch it loads triggers, people (unless the
records handler left them: `InboundEvent.people_found`) and their survey history in a few queries,
decides with `eligibility_decide` and inserts the invitations in one statement.
"""

import logging
from collections.abc import Sequence
from datetime import datetime

from django.utils import timezone

from customers.models import Person
from customers.selectors import people_of_calls
from hub.db import bulk_insert
from integrations.models import InboundEvent
from surveys.conditions import conditions_match
from surveys.models import Invitation, SurveyPolicy, Trigger
from surveys.services.eligibility import History, eligibility_decide, histories_load

logger = logging.getLogger(__name__)


def trigger_matches(*, trigger: Trigger, event: InboundEvent) -> bool:
    if trigger.source_id != event.source_id or trigger.call_type != event.type:
        return False
    return not trigger.event_name or trigger.event_name == event.event


def surveys_process_events(*, events: Sequence[InboundEvent]) -> None:
    """Schedule invitations for the calls that match an enabled trigger of an automated survey."""
    sources = {e.source_id for e in events}
    triggers = list(
        Trigger.objects.filter(
            enabled=True, source_id__in=sources, survey__automation_enabled=True
        ).select_related("survey")
    )
    if not triggers:
        return
    matches = [
        (t, e)
        for e in events
        if e.status != InboundEvent.Status.FAILED
        for t in triggers
        if trigger_matches(trigger=t, event=e)
    ]
    if not matches:
        return
    calls = [e for _, e in matches]
    # The customer-records handler, just before, usually says whom the calls are about.
    people = calls[0].people_found
    if people is None or any(call.people_found is not people for call in calls):
        people = people_of_calls(calls=calls)
    considered: dict[tuple[int, int], tuple[Trigger, InboundEvent, Person]] = {}
    for trigger, event in matches:
        person = people.of_call(event)
        if person is None or not conditions_match(
            conditions=trigger.conditions, payload=event.payload, person=person
        ):
            continue
        considered.setdefault((trigger.survey_id, person.pk), (trigger, event, person))
    if not considered:
        return
    surveys = {t.survey_id: t.survey for t, _, _ in considered.values()}
    histories = histories_load(
        surveys=surveys.values(), people={p.pk: p for _, _, p in considered.values()}.values()
    )
    cap = SurveyPolicy.current().global_cap_days
    histories_of: dict[int, list[History]] = {}
    for (_, person_id), history in histories.items():
        histories_of.setdefault(person_id, []).append(history)
    now = timezone.now()
    invitations: list[tuple[int, int, datetime, int]] = []  # survey, person, due at, trigger event
    for (survey_id, person_id), (_, event, person) in considered.items():
        history = histories[(survey_id, person_id)]
        try:
            decision = eligibility_decide(
                survey=surveys[survey_id], person=person, history=history, now=now, global_cap_days=cap
            )
        except Exception:  # one survey's settings or one person's data: the other surveys still invite
            logger.exception("survey %s: deciding for person %s failed", survey_id, person_id)
            continue
        if decision.eligible and decision.send_at is not None:
            invitations.append((survey_id, person_id, decision.send_at, event.pk))
            # The global cap also binds the other surveys of this batch.
            for other in histories_of[person_id]:
                other.last_any = max(filter(None, [other.last_any, decision.send_at]))
    # The partial unique index keeps one open invitation per survey and person, even when two
    # workers decide at once. The rows are only written: no model objects (hub.db.bulk_insert).
    if invitations:
        survey_ids, person_ids, due_ats, event_ids = zip(*invitations, strict=True)
        columns = {
            "survey_id": survey_ids,
            "person_id": person_ids,
            "due_at": due_ats,
            "trigger_event_id": event_ids,
        }
        bulk_insert(Invitation, columns, ignore_conflicts=True)
