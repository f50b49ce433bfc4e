"""Triggers bind a survey to what happens: call type, event name, source and trait conditions."""

import json
from typing import Any

import pytest
from django.test import Client

from customers.models import Person
from integrations.models import InboundEvent, Source
from integrations.services import inbound_events_process, source_create
from surveys.conditions import conditions_problems
from surveys.models import Invitation, Survey, Trigger
from surveys.services import triggers

pytestmark = pytest.mark.django_db


def send(client: Client, key: str, *events: dict[str, Any]) -> None:
    before = InboundEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    body = {"batch": list(events), "writeKey": key}
    assert client.post("/v1/batch", json.dumps(body), content_type="application/json").status_code == 200
    inbound_events_process(ids=list(InboundEvent.objects.filter(pk__gt=before).values_list("pk", flat=True)))


def survey_with(source: Source, **trigger: Any) -> Survey:
    survey = Survey.objects.create(name="NPS", slug="nps", automation_enabled=True)
    Trigger.objects.create(survey=survey, source=source, **trigger)
    return survey


IDENTIFY = {
    "type": "identify",
    "userId": "u1",
    "traits": {"email": "u1@example.com", "plan": "pro", "country": "BE"},
}


def test_a_track_trigger_fires_only_on_its_event_name(client: Client, source: Source, write_key: str) -> None:
    survey_with(source, call_type="track", event_name="Order Completed")
    send(client, write_key, IDENTIFY, {"type": "track", "userId": "u1", "event": "Page Scrolled"})
    assert not Invitation.objects.exists()

    send(client, write_key, {"type": "track", "userId": "u1", "event": "Order Completed"})

    invitation = Invitation.objects.get()
    assert invitation.trigger_event is not None
    assert invitation.trigger_event.event == "Order Completed"


def test_a_call_by_a_former_user_id_triggers_for_the_person_it_was_aliased_to(
    client: Client, source: Source, write_key: str
) -> None:
    survey_with(source, call_type="track", event_name="Order Completed")
    send(client, write_key, IDENTIFY, {"type": "alias", "previousId": "u1", "userId": "u2"})

    send(client, write_key, {"type": "track", "userId": "u1", "event": "Order Completed"})

    person = Invitation.objects.select_related("person").get().person
    assert person is not None
    assert (person.user_id, person.email) == ("u2", "u1@example.com")


@pytest.mark.parametrize("call_type", ["page", "screen", "group"])
def test_page_screen_and_group_calls_can_trigger(
    client: Client, source: Source, write_key: str, call_type: str
) -> None:
    survey_with(source, call_type=call_type)
    event: dict[str, Any] = {"type": call_type, "userId": "u1", "name": "Home"}
    if call_type == "group":
        event["groupId"] = "acme"
    send(client, write_key, IDENTIFY, event)
    assert Invitation.objects.count() == 1


def test_a_trigger_listens_to_its_own_source_only(client: Client, source: Source, write_key: str) -> None:
    _, other_key = source_create(name="Other", slug="other")
    survey_with(source, call_type="identify")
    send(client, other_key, IDENTIFY)
    assert not Invitation.objects.exists()


@pytest.mark.parametrize(
    ("conditions", "fires"),
    [
        ([{"path": "traits.plan", "op": "equals", "value": "pro"}], True),
        ([{"path": "traits.plan", "op": "equals", "value": "free"}], False),
        ([{"path": "traits.country", "op": "in", "value": ["BE", "NL"]}], True),
        ([{"path": "traits.country", "op": "in", "value": ["FR"]}], False),
        ([{"path": "traits.email", "op": "exists"}], True),
        ([{"path": "traits.phone", "op": "exists"}], False),
        (
            [
                {"path": "traits.plan", "op": "equals", "value": "pro"},
                {"path": "traits.phone", "op": "exists"},
            ],
            False,
        ),
    ],
)
def test_trait_conditions(
    client: Client, source: Source, write_key: str, conditions: list[Any], fires: bool
) -> None:
    survey_with(source, call_type="identify", conditions=conditions)
    send(client, write_key, IDENTIFY)
    assert Invitation.objects.exists() is fires


def test_conditions_read_the_merged_person_not_only_this_call(
    client: Client, source: Source, write_key: str
) -> None:
    survey_with(
        source,
        call_type="track",
        event_name="Clicked",
        conditions=[{"path": "traits.plan", "op": "equals", "value": "pro"}],
    )
    send(client, write_key, IDENTIFY)
    send(client, write_key, {"type": "track", "userId": "u1", "event": "Clicked"})
    assert Invitation.objects.count() == 1


@pytest.mark.parametrize(
    ("conditions", "problem"),
    [
        ({"path": "x"}, "Conditions must be a list."),
        ([{"op": "exists"}], "Condition 1 needs a path such as traits.plan."),
        (
            [{"path": "traits.plan", "op": "like"}],
            "Condition 1: op must be one of equals, exists, in, at_least, at_most.",
        ),
        ([{"path": "traits.plan", "op": "in", "value": "pro"}], "Condition 1: 'in' needs a list value."),
        (
            [{"path": "traits.licenses", "op": "at_least", "value": "many"}],
            "Condition 1: 'at_least' needs a number, e.g. 100.",
        ),
    ],
)
def test_bad_conditions_are_explained(conditions: Any, problem: str) -> None:
    assert conditions_problems(conditions=conditions) == [problem]


def test_the_trigger_handler_takes_the_people_from_the_records_handler_without_loading_them_again(
    client: Client, source: Source, write_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One batch: a new person, an anonymous visitor who signs up, and a known person who upgrades."""
    survey_with(
        source, call_type="identify", conditions=[{"path": "traits.plan", "op": "equals", "value": "pro"}]
    )
    send(
        client,
        write_key,
        {"type": "identify", "userId": "known", "traits": {"plan": "free", "email": "k@example.com"}},
    )
    send(
        client, write_key, {"type": "identify", "anonymousId": "anon-7", "traits": {"email": "s@example.com"}}
    )
    batch = [
        {"type": "identify", "userId": "new", "traits": {"plan": "pro", "email": "new@example.com"}},
        {"type": "identify", "userId": "signed-up", "anonymousId": "anon-7", "traits": {"plan": "pro"}},
        {"type": "identify", "userId": "known", "traits": {"plan": "pro"}},
    ]
    body = {"batch": batch, "writeKey": write_key}
    assert client.post("/v1/batch", json.dumps(body), content_type="application/json").status_code == 200
    accepted = list(InboundEvent.objects.filter(status="accepted").values_list("pk", flat=True))

    loads: list[Any] = []
    monkeypatch.setattr(triggers, "people_of_calls", lambda **kwargs: loads.append(kwargs))

    assert inbound_events_process(ids=accepted) == 3

    assert loads == []  # the trigger handler reused what the records handler left
    invited = Invitation.objects.values_list("person__user_id", flat=True)
    assert sorted(str(user_id) for user_id in invited) == ["known", "new", "signed-up"]
    assert Person.objects.filter(user_id="signed-up", identities__value="anon-7").exists()
