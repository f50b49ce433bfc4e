"""Collectors: deciding the invitation of an add-contact call (SurveyLab's model; e.g. "an agent closed
an Intercom conversation -> survey that customer").

From a webhook to an invitation:

1. surveys/collector_views.py authenticates the collector and tells which of its links was used
   (services/collector_links.py), and hands the call to `collector_call_receive`
   (services/collector_calls.py), which dispatches on `source=<kind>` through the inbound registry
   (integrations/registry.py HANDLERS): the kind's handler verifies and parses it.
2. The call is stored in the event log under the collector's own source, deduped on (source, message
   id), as a Segment-shaped track call whose `context.traits` carry the contact. An add-contact call
   is stored `pending` (`InboundEvent.Status.PENDING`); calls that need no decision (ping, ignored
   topics, turning the collector on or off, a collector that is off) are recorded with their outcome.
3. `collector_event_process` (here) runs the pipeline on the event (the customer-records handler
   finds or creates the person), looks the contact's email up with the vendor if needed
   (services/collector_contacts.py), decides with `eligibility_decide` and schedules the invitation;
   the outcome becomes the event's status and reason, and the caller's answer.

Generic calls are decided inline, so the caller is told what happened. Vendors' calls are acknowledged
at once and decided by a Celery task after commit (vendors favour endpoints answering within 500 ms);
`collector_events_sweep` decides the pending calls whose task was lost.
"""

from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from customers.models import Person
from customers.selectors import person_find
from integrations.models import ERASED_PAYLOAD, InboundEvent
from integrations.services import inbound_events_process
from surveys.models import Collector, Invitation, Survey, SurveyPolicy
from surveys.services.collector_contacts import contact_email_lookup
from surveys.services.collector_outcome import CollectorRetry, Outcome
from surveys.services.eligibility import COUNTED, Decision, History, eligibility_decide, histories_load
from surveys.services.windows import send_window_next

PENDING = InboundEvent.Status.PENDING


def collector_event_process(*, event_id: int, final_attempt: bool = True) -> Outcome:
    """Decide one add-contact call: the customer record first (the pipeline's own processing of the
    event, a no-op when done), then the email lookup if needed, then the invitation.

    Idempotent: once the outcome is on the event, calling again changes nothing. Raises CollectorRetry
    while the event is being processed elsewhere or the vendor is unreachable (unless `final_attempt`).
    """
    inbound_events_process(ids=[event_id])
    event = InboundEvent.objects.select_related("source").filter(pk=event_id).first()
    if event is None:
        return Outcome("failed", f"event {event_id} no longer exists", http_status=500, code="failed")
    if event.status == InboundEvent.Status.ACCEPTED or (
        event.status == PENDING and event.processed_at is None
    ):
        raise CollectorRetry("the event is being processed by another worker", countdown=2)
    if event.payload == ERASED_PAYLOAD:
        # Erased while it waited: nobody to invite, and nothing left for the sweeper.
        InboundEvent.objects.filter(pk=event_id, status=PENDING).update(status=InboundEvent.Status.PROCESSED)
        return Outcome("suppressed", "not invited: this person was erased on request")
    if event.status == InboundEvent.Status.FAILED:
        return Outcome("failed", f"processing failed: {event.reason}", http_status=500, code="failed")
    if event.status != PENDING:
        return Outcome("done", f"decided before: {event.reason}")
    properties = event.payload.get("properties") or {}
    collector_id = properties.get("collector")
    collector = (
        Collector.objects.select_related("survey")
        .filter(pk=collector_id if isinstance(collector_id, int) else 0)
        .first()
    )
    person = person_find(source_id=event.source_id, user_id=event.user_id) if event.user_id else None
    refused: Outcome | None
    if collector is None:
        refused = Outcome("failed", "the collector was deleted", http_status=500, code="failed")
    elif person is None:
        refused = Outcome("suppressed", "not invited: the person was not recorded (erased on request)")
    else:
        refused = contact_email_lookup(
            collector=collector,
            person=person,
            event=event,
            properties=properties,
            final_attempt=final_attempt,
        )
    with transaction.atomic():
        event = InboundEvent.objects.select_for_update().get(pk=event_id)
        if event.status != PENDING:
            return Outcome("done", f"decided before: {event.reason}")
        if refused is not None:
            outcome = refused
        else:
            assert collector is not None
            assert person is not None
            outcome = collector_invite(collector=collector, person=person, event=event, now=timezone.now())
        notes = event.reason  # what processing noted (e.g. a trait it could not read)
        event.status = outcome.event_status
        event.reason = f"{outcome.message}; {notes}" if notes else outcome.message
        event.save(update_fields=["status", "reason"])
    return outcome


def collector_invite(
    *, collector: Collector, person: Person, event: InboundEvent | None, now: datetime
) -> Outcome:
    """Invite `person` through `collector` if the survey's rules and the collector's own protection allow."""
    survey = collector.survey
    history = histories_load(surveys=[survey], people=[person])[(survey.pk, person.pk)]
    decision = eligibility_decide(
        survey=survey,
        person=person,
        history=history,
        now=now,
        global_cap_days=SurveyPolicy.current().global_cap_days,
    )
    if not decision.eligible or decision.send_at is None:
        return _refusal(survey, person, history, decision)
    if collector.resurvey_days and collector.source_id is not None:
        last = Invitation.objects.filter(
            person=person,
            trigger_event__source_id=collector.source_id,
            status__in=COUNTED,
            due_at__gt=now - timedelta(days=collector.resurvey_days),
        ).aggregate(last=Max("due_at"))["last"]
        if last is not None:
            return Outcome(
                "already_surveyed",
                f"not invited: this collector invited them on {last:%Y-%m-%d}, "
                f"protection {collector.resurvey_days} days",
            )
    due = decision.send_at
    if collector.delay_minutes:
        due = send_window_next(
            survey=survey,
            at=max(due, now + timedelta(minutes=collector.delay_minutes)),
            person_timezone=person.timezone,
        )
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                survey=survey, person=person, due_at=due, trigger_event=event
            )
    except IntegrityError:  # another call scheduled one meanwhile (one open invitation per survey and person)
        return Outcome("already_surveyed", "not invited: an invitation of this survey is already scheduled")
    return Outcome(
        "invited", f"invited: invitation {invitation.pk}, due {due:%Y-%m-%d %H:%M} UTC", invitation=invitation
    )


def _refusal(survey: Survey, person: Person, history: History, decision: Decision) -> Outcome:
    """The decision's blocking rule, named for the caller: suppressed, already surveyed, or not eligible."""
    reason = f"not invited: {decision.reasons[-1]}"
    if survey.automation_enabled and history.suppression is not None:
        return Outcome("suppressed", reason)
    blocked_by_history = decision.next_eligible_at is not None or history.open_due_at is not None
    if survey.automation_enabled and person.email and blocked_by_history:
        return Outcome("already_surveyed", reason)
    return Outcome("not_eligible", reason)


def collector_events_sweep(*, older_than: timedelta = timedelta(minutes=2), limit: int = 500) -> int:
    """Decide add-contact calls still pending (their task was lost, e.g. the broker was down)."""
    cutoff = timezone.now() - older_than
    sources = Collector.objects.exclude(source=None).values_list("source_id", flat=True)
    ids = list(
        InboundEvent.objects.filter(source_id__in=sources, status=PENDING, received_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
    decided = 0
    for event_id in ids:
        try:
            collector_event_process(event_id=event_id, final_attempt=False)
            decided += 1
        except CollectorRetry:
            continue
    return decided
