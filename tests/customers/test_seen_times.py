"""A person's first_seen_at is never later than last_seen_at, whatever order their calls arrive in,
however they are batched, and when calls name them by anonymousId first and userId later."""

import importlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Person, person_delete_allowed
from integrations.models import InboundEvent, Source
from integrations.services import inbound_events_process

pytestmark = pytest.mark.django_db

START = datetime(2024, 1, 1, tzinfo=UTC)

# One call: its event time (hours after START, all in the past), and who it names.
calls = st.lists(
    st.tuples(st.integers(0, 20_000), st.sampled_from(["user", "anonymous", "both", "alias"])),
    min_size=1,
    max_size=8,
)


def payload(n: int, hours: int, names: str) -> dict[str, Any]:
    call: dict[str, Any] = {
        "type": "alias" if names == "alias" else "track",
        "event": "Seen",
        "messageId": f"m-{n}",
        "timestamp": (START + timedelta(hours=hours)).isoformat(),
    }
    if names in ("user", "both", "alias"):
        call["userId"] = "u-1"
    if names in ("anonymous", "both"):
        call["anonymousId"] = "anon-1"
    if names == "alias":
        call["previousId"] = "anon-1"
    return call


def send_in_batches(client: Client, key: str, events: list[dict[str, Any]], cuts: list[int]) -> None:
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        if start == end:
            continue
        before = InboundEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        body = json.dumps({"batch": events[start:end], "writeKey": key})
        assert client.post("/v1/batch", body, content_type="application/json").status_code == 200
        inbound_events_process(
            ids=list(InboundEvent.objects.filter(pk__gt=before).values_list("pk", flat=True))
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=calls, cuts=st.lists(st.integers(0, 8), max_size=3).map(sorted))
def test_first_seen_is_the_earliest_call_and_never_after_last_seen(
    client: Client, write_key: str, calls: list[tuple[int, str]], cuts: list[int]
) -> None:
    # Hypothesis runs every example in the one test transaction: start each from no calls, no people.
    InboundEvent.objects.all().delete()
    with person_delete_allowed():
        Person.objects.all().delete()
    events = [payload(n, hours, names) for n, (hours, names) in enumerate(calls)]
    cuts = [min(cut, len(events)) for cut in cuts]
    send_in_batches(client, write_key, events, cuts)

    people = list(Person.objects.all())
    assert people
    for person in people:
        assert person.last_seen_at is not None
        assert person.first_seen_at <= person.last_seen_at
    times = [START + timedelta(hours=hours) for hours, _ in calls]
    if len(people) == 1:
        assert people[0].first_seen_at == min(times)
        assert people[0].last_seen_at == max(times)


def test_the_migration_gives_people_recorded_before_the_fix_their_last_seen_as_first_seen(
    source: Source,
) -> None:
    seen = START + timedelta(hours=5)
    wrong = Person.objects.create(source=source, user_id="u-old", last_seen_at=seen)  # made "now"
    right = Person.objects.create(source=source, user_id="u-ok", last_seen_at=timezone.now() + timedelta(1))
    never = Person.objects.create(source=source, user_id="u-never")
    assert wrong.first_seen_at > seen

    migration = importlib.import_module("customers.migrations.0003_first_seen_not_after_last_seen")
    migration.first_seen_not_after_last_seen(django_apps, None)

    assert Person.objects.get(pk=wrong.pk).first_seen_at == seen
    assert Person.objects.get(pk=right.pk).first_seen_at == right.first_seen_at
    assert Person.objects.get(pk=never.pk).first_seen_at == never.first_seen_at
