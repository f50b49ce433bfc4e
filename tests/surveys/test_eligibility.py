"""Callexa's delay windows, the re-survey interval, the global cap, suppression and send windows,
through time travel: identify calls arrive over days and the hub schedules (or does not)."""

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client

from customers.models import Person, Suppression, suppression_hash
from integrations.models import InboundEvent, Source
from integrations.services import inbound_events_process
from surveys.models import Invitation, Survey, SurveyPolicy, Trigger
from surveys.services.eligibility import History, eligibility_decide, eligibility_explain

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)  # a Tuesday


def make_survey(source: Source, **options: Any) -> Survey:
    survey = Survey.objects.create(
        name=options.pop("name", "NPS"), slug=options.pop("slug", "nps"), automation_enabled=True, **options
    )
    Trigger.objects.create(survey=survey, source=source, call_type="identify")
    return survey


def identify(client: Client, key: str, user_id: str = "u1", **traits: Any) -> InboundEvent:
    body = {
        "batch": [
            {"type": "identify", "userId": user_id, "traits": {"email": f"{user_id}@example.com", **traits}}
        ],
        "writeKey": key,
    }
    assert client.post("/v1/batch", json.dumps(body), content_type="application/json").status_code == 200
    event = InboundEvent.objects.latest("pk")
    inbound_events_process(ids=[event.pk])
    return event


def invitations(user_id: str = "u1") -> list[Invitation]:
    return list(Invitation.objects.filter(person__user_id=user_id).order_by("pk"))


def test_min_3_max_14_a_new_customer_is_surveyed_3_days_after_creation(
    client: Client, source: Source, write_key: str
) -> None:
    make_survey(source, min_delay_days=3, max_delay_days=14)
    with time_machine.travel(T0, tick=False):
        identify(client, write_key, createdAt=T0.isoformat())

    [invitation] = invitations()
    assert invitation.due_at == T0 + timedelta(days=3)
    assert invitation.status == "scheduled"


def test_min_3_max_14_a_customer_older_than_14_days_is_ignored(
    client: Client, source: Source, write_key: str
) -> None:
    survey = make_survey(source, min_delay_days=3, max_delay_days=14)
    with time_machine.travel(T0, tick=False):
        identify(client, write_key, createdAt=(T0 - timedelta(days=15)).isoformat())
        decision = eligibility_explain(survey=survey, person=Person.objects.get(), now=T0)

    assert invitations() == []
    assert not decision.eligible
    assert decision.reasons[-1].startswith("max delay: created 15 days ago, after the 14-day window")
    assert decision.next_eligible_at is None


def test_min_3_max_14_later_identify_inside_the_window_is_sent_at_once(
    client: Client, source: Source, write_key: str
) -> None:
    make_survey(source, min_delay_days=3, max_delay_days=14)
    with time_machine.travel(T0, tick=False):
        identify(client, write_key, createdAt=(T0 - timedelta(days=5)).isoformat())
    assert invitations()[0].due_at == T0


def test_repeated_identify_calls_do_not_schedule_twice(
    client: Client, source: Source, write_key: str
) -> None:
    make_survey(source, min_delay_days=3, max_delay_days=14)
    with time_machine.travel(T0, tick=False):
        identify(client, write_key, createdAt=T0.isoformat())
    with time_machine.travel(T0 + timedelta(days=1), tick=False):
        identify(client, write_key, createdAt=T0.isoformat(), plan="pro")
    assert len(invitations()) == 1


def test_max_0_every_identify_may_survey_unless_within_the_resurvey_interval(
    client: Client, source: Source, write_key: str
) -> None:
    make_survey(source, max_delay_days=0, resurvey_interval_days=182)
    with time_machine.travel(T0, tick=False):
        identify(client, write_key, createdAt=(T0 - timedelta(days=400)).isoformat())
    Invitation.objects.update(status="sent", sent_at=T0)

    with time_machine.travel(T0 + timedelta(days=100), tick=False):
        identify(client, write_key)
    assert len(invitations()) == 1

    with time_machine.travel(T0 + timedelta(days=183), tick=False):
        identify(client, write_key)
    assert len(invitations()) == 2
    assert invitations()[1].due_at == T0 + timedelta(days=183)


def test_the_interval_reason_names_the_date_and_the_next_eligible_day(
    client: Client, source: Source, write_key: str
) -> None:
    survey = make_survey(source, resurvey_interval_days=182)
    with time_machine.travel(T0, tick=False):
        identify(client, write_key)
    Invitation.objects.update(status="sent")

    decision = eligibility_explain(survey=survey, person=Person.objects.get(), now=T0 + timedelta(days=10))

    assert not decision.eligible
    assert decision.reasons == ["surveyed 2026-12-01, interval 26 weeks"]
    assert decision.next_eligible_at == T0 + timedelta(days=182)


def test_no_created_at_behaves_as_max_0(client: Client, source: Source, write_key: str) -> None:
    survey = make_survey(source, min_delay_days=3, max_delay_days=14)
    with time_machine.travel(T0, tick=False):
        identify(client, write_key)
    [invitation] = invitations()
    assert invitation.due_at == T0
    decision = eligibility_explain(survey=survey, person=Person.objects.get(), now=T0)
    assert "already scheduled" in decision.reasons[-1]


def test_min_delay_reason_says_when(source: Source) -> None:
    survey = make_survey(source, min_delay_days=3, max_delay_days=14)
    person = Person(source=source, user_id="u", email="u@example.com", created_at=T0 - timedelta(days=1))

    decision = eligibility_decide(survey=survey, person=person, history=History(), now=T0)

    assert decision.eligible
    assert "min delay: created 1 day ago, eligible from 2026-12-03 10:00 UTC" in decision.reasons
    assert decision.send_at == T0 + timedelta(days=2)


def test_automation_off_sends_nothing(client: Client, source: Source, write_key: str) -> None:
    survey = make_survey(source)
    survey.automation_enabled = False
    survey.save()
    with time_machine.travel(T0, tick=False):
        identify(client, write_key)
    assert invitations() == []


def test_global_cap_across_surveys(client: Client, source: Source, write_key: str) -> None:
    SurveyPolicy.objects.update_or_create(pk=1, defaults={"global_cap_days": 30})
    make_survey(source, name="A", slug="a")
    with time_machine.travel(T0, tick=False):
        identify(client, write_key)
    second = make_survey(source, name="B", slug="b")

    with time_machine.travel(T0 + timedelta(days=10), tick=False):
        identify(client, write_key)
        decision = eligibility_explain(
            survey=second, person=Person.objects.get(), now=T0 + timedelta(days=10)
        )
    assert [i.survey.slug for i in invitations()] == ["a"]
    assert decision.reasons[-1] == "global cap: a survey on 2026-12-01, at most one per 30 days"
    assert decision.next_eligible_at == T0 + timedelta(days=30)

    with time_machine.travel(T0 + timedelta(days=31), tick=False):
        identify(client, write_key)
    assert sorted(i.survey.slug for i in invitations()) == ["a", "b"]


def test_global_cap_binds_the_other_surveys_deciding_in_the_same_batch(
    client: Client, source: Source, write_key: str
) -> None:
    SurveyPolicy.objects.update_or_create(pk=1, defaults={"global_cap_days": 30})
    make_survey(source, name="A", slug="a")
    make_survey(source, name="B", slug="b")
    calls = [{"type": "identify", "userId": u, "traits": {"email": f"{u}@example.com"}} for u in ("u1", "u2")]
    with time_machine.travel(T0, tick=False):
        body = {"batch": calls, "writeKey": write_key}
        assert client.post("/v1/batch", json.dumps(body), content_type="application/json").status_code == 200
        inbound_events_process(ids=list(InboundEvent.objects.values_list("pk", flat=True)))

    # Each person gets one survey of the two, whichever decided first.
    assert [len(invitations(user_id)) for user_id in ("u1", "u2")] == [1, 1]


def test_global_cap_off_by_default_lets_two_surveys_ask(
    client: Client, source: Source, write_key: str
) -> None:
    make_survey(source, name="A", slug="a")
    make_survey(source, name="B", slug="b")
    with time_machine.travel(T0, tick=False):
        identify(client, write_key)
    assert len(invitations()) == 2


@pytest.mark.parametrize("reason", ["unsubscribed", "bounced"])
def test_suppression_always_wins(client: Client, source: Source, write_key: str, reason: str) -> None:
    survey = make_survey(source)
    Suppression.objects.create(
        source=source,
        kind="email",
        value_hash=suppression_hash("email", "u1@example.com"),
        reason=reason,
        created_at=datetime(2026, 11, 2, 17, 45, tzinfo=UTC),
    )
    with time_machine.travel(T0, tick=False):
        identify(client, write_key)
    assert invitations() == []
    decision = eligibility_explain(survey=survey, person=Person.objects.get(), now=T0)
    assert decision.reasons == [f"suppressed: {Suppression.Reason(reason).label} on 2026-11-02"]


def test_no_email_no_survey(client: Client, source: Source, write_key: str) -> None:
    make_survey(source)
    body = {"batch": [{"type": "identify", "userId": "u1", "traits": {"plan": "pro"}}], "writeKey": write_key}
    client.post("/v1/batch", json.dumps(body), content_type="application/json")
    inbound_events_process(ids=list(InboundEvent.objects.values_list("pk", flat=True)))
    assert invitations() == []


def window_survey(source: Source) -> Survey:
    return make_survey(
        source,
        send_window_enabled=True,
        send_window_days=[0, 1, 2, 3, 4],
        send_window_start=time(9),
        send_window_end=time(17),
    )


@pytest.mark.parametrize(
    ("now", "zone", "expected"),
    [
        # Tuesday 06:00 UTC = 07:00 in Brussels: deferred to 09:00 local the same day.
        (datetime(2026, 12, 1, 6, 0, tzinfo=UTC), "Europe/Brussels", datetime(2026, 12, 1, 8, 0, tzinfo=UTC)),
        # Tuesday 10:00 UTC inside 9-17 Brussels: sent now.
        (
            datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
            "Europe/Brussels",
            datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        ),
        # Friday 17:30 Brussels: next Monday 09:00.
        (
            datetime(2026, 12, 4, 16, 30, tzinfo=UTC),
            "Europe/Brussels",
            datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        ),
        # Tuesday 10:00 UTC is 05:00 in New York: 09:00 New York = 14:00 UTC.
        (
            datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
            "America/New_York",
            datetime(2026, 12, 1, 14, 0, tzinfo=UTC),
        ),
        # Unknown zone: the survey's default (UTC).
        (datetime(2026, 12, 1, 7, 0, tzinfo=UTC), "", datetime(2026, 12, 1, 9, 0, tzinfo=UTC)),
        # Saturday 27 March 2027, before Brussels moves to summer time: Monday 09:00 CEST = 07:00 UTC.
        (
            datetime(2027, 3, 27, 12, 0, tzinfo=UTC),
            "Europe/Brussels",
            datetime(2027, 3, 29, 7, 0, tzinfo=UTC),
        ),
        # Friday before, 20:00 CET: Monday 09:00 is already summer time (UTC+2).
        (
            datetime(2027, 3, 26, 19, 0, tzinfo=UTC),
            "Europe/Brussels",
            datetime(2027, 3, 29, 7, 0, tzinfo=UTC),
        ),
    ],
)
def test_send_window_in_the_recipients_time_zone_defers_never_drops(
    client: Client, source: Source, write_key: str, now: datetime, zone: str, expected: datetime
) -> None:
    window_survey(source)
    body = {
        "batch": [
            {
                "type": "identify",
                "userId": "u1",
                "traits": {"email": "u1@example.com"},
                "context": {"timezone": zone},
            }
        ],
        "writeKey": write_key,
    }
    with time_machine.travel(now, tick=False):
        client.post("/v1/batch", json.dumps(body), content_type="application/json")
        inbound_events_process(ids=list(InboundEvent.objects.values_list("pk", flat=True)))

    [invitation] = invitations()
    assert invitation.due_at == expected


def test_the_deferral_is_explained(source: Source) -> None:
    survey = window_survey(source)
    person = Person(source=source, user_id="u", email="u@example.com", timezone="Europe/Brussels")

    decision = eligibility_decide(
        survey=survey, person=person, history=History(), now=datetime(2026, 12, 5, 10, tzinfo=UTC)
    )

    assert (
        "send window Mon,Tue,Wed,Thu,Fri 09:00-17:00 Europe/Brussels: deferred to 2026-12-07 08:00 UTC"
        in decision.reasons
    )
