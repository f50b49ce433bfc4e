"""Every processed Segment call updates one coherent customer record."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from customers.models import Account, Identity, Membership, Person
from integrations.models import InboundEvent
from integrations.services import inbound_events_process
from tests.conftest import FIXTURES

pytestmark = pytest.mark.django_db


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((FIXTURES / "segment" / f"{name}.json").read_text()), **changes}


def send(client: Client, key: str, *events: dict[str, Any]) -> list[InboundEvent]:
    """POST the events as one batch, then process them as a worker would."""
    before = InboundEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    response = client.post(
        "/v1/batch", json.dumps({"batch": list(events), "writeKey": key}), content_type="application/json"
    )
    assert response.status_code == 200
    ids = list(InboundEvent.objects.filter(pk__gt=before).values_list("pk", flat=True))
    inbound_events_process(ids=ids)
    return list(InboundEvent.objects.filter(pk__in=ids).order_by("pk"))


def test_identify_in_snake_case_fills_the_typed_columns(client: Client, write_key: str) -> None:
    send(client, write_key, fixture("identify__snake_case"))

    person = Person.objects.get(user_id="u-snake")
    assert person.email == "ann.smith@example.com"
    assert (person.first_name, person.last_name, person.name) == ("Ann", "Smith", "Ann Smith")
    assert person.gender == "female"
    assert person.language == "nl-BE"  # no language trait: context.locale
    assert person.timezone == "Europe/Brussels"
    assert person.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert person.last_seen_at == datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    # Reserved traits are kept in Segment's camelCase, custom ones as sent.
    assert person.traits["firstName"] == "Ann"
    assert "first_name" not in person.traits
    assert person.traits["address"] == {"city": "Gent", "postalCode": "9000"}
    assert person.traits["plan"] == "pro"


def test_identify_in_camel_case_with_unix_created_at_and_a_language_trait(
    client: Client, write_key: str
) -> None:
    send(client, write_key, fixture("identify__camel_case"))

    person = Person.objects.get(user_id="u-camel")
    assert person.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert person.language == "fr"  # the trait wins over context.locale
    assert person.name == "Bob Jones"


def test_name_is_split_when_first_and_last_are_absent(client: Client, write_key: str) -> None:
    send(client, write_key, {"type": "identify", "userId": "u1", "traits": {"name": "Mary Ann Lee"}})

    person = Person.objects.get(user_id="u1")
    assert (person.first_name, person.last_name, person.name) == ("Mary", "Ann Lee", "Mary Ann Lee")


def test_latest_call_wins_per_trait_and_null_clears(client: Client, write_key: str) -> None:
    send(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"plan": "trial", "seats": 3},
            "timestamp": "2026-03-01T10:00:00Z",
        },
    )
    send(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"plan": "pro", "seats": None},
            "timestamp": "2026-03-01T11:00:00Z",
        },
    )

    person = Person.objects.get(user_id="u1")
    assert person.traits == {"plan": "pro"}


def test_an_older_call_arriving_late_does_not_overwrite_a_newer_trait(client: Client, write_key: str) -> None:
    send(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"plan": "pro", "email": "new@example.com"},
            "timestamp": "2026-03-02T10:00:00Z",
        },
    )
    send(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"plan": "trial", "email": "old@example.com", "seats": 5},
            "timestamp": "2026-03-01T10:00:00Z",
        },
    )

    person = Person.objects.get(user_id="u1")
    assert person.traits == {"plan": "pro", "email": "new@example.com", "seats": 5}
    assert person.email == "new@example.com"
    assert person.last_seen_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def test_context_traits_of_any_call_update_the_person(client: Client, write_key: str) -> None:
    send(
        client,
        write_key,
        {
            "type": "track",
            "userId": "u1",
            "event": "Clicked",
            "context": {"traits": {"email": "t@example.com"}},
        },
    )
    assert Person.objects.get(user_id="u1").email == "t@example.com"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-02T03:04:05Z", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2026-01-02T04:04:05.123456+01:00", datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)),
        ("2026-01-02", datetime(2026, 1, 2, tzinfo=UTC)),
        (1767323045, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        (1767323045000, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("1767323045", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("1767323045000", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
    ],
)
def test_created_at_in_every_format(client: Client, write_key: str, value: Any, expected: datetime) -> None:
    send(client, write_key, {"type": "identify", "userId": "u1", "traits": {"createdAt": value}})
    assert Person.objects.get(user_id="u1").created_at == expected


@pytest.mark.parametrize("garbage", ["next tuesday", "2026-13-45", True, {"at": "noon"}, ""])
def test_unparseable_created_at_is_kept_and_reported_never_a_crash(
    client: Client, write_key: str, garbage: Any
) -> None:
    [event] = send(client, write_key, {"type": "identify", "userId": "u1", "traits": {"createdAt": garbage}})

    assert event.status == "processed"
    person = Person.objects.get(user_id="u1")
    assert person.created_at is None
    assert person.traits["createdAt"] == garbage
    assert "createdAt not understood" in event.reason


def test_invalid_email_stays_in_traits_and_is_reported(client: Client, write_key: str) -> None:
    [event] = send(
        client, write_key, {"type": "identify", "userId": "u1", "traits": {"email": "not-an-email"}}
    )

    person = Person.objects.get(user_id="u1")
    assert person.email == ""
    assert person.traits["email"] == "not-an-email"
    assert "email not valid" in event.reason


def test_anonymous_identify_creates_a_person_a_later_identify_with_user_id_adopts(
    client: Client, write_key: str
) -> None:
    send(client, write_key, fixture("identify__anonymous"))
    anonymous = Person.objects.get()
    assert anonymous.user_id is None
    assert anonymous.identities.get().value == "anon-123"

    send(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u9",
            "anonymousId": "anon-123",
            "traits": {"email": "n@example.com"},
            "timestamp": "2026-03-01T09:30:00Z",
        },
    )

    person = Person.objects.get()
    assert person.pk == anonymous.pk
    assert person.user_id == "u9"
    assert person.traits == {"plan": "trial", "referrer": "ads", "email": "n@example.com"}


def test_alias_merges_the_anonymous_record_into_the_known_one(client: Client, write_key: str) -> None:
    send(
        client,
        write_key,
        fixture("identify__anonymous"),
        fixture("identify__camel_case"),
        fixture("group__account"),
    )
    assert Person.objects.count() == 2

    send(client, write_key, fixture("alias"))

    person = Person.objects.get()
    assert person.user_id == "u-camel"
    assert person.traits["referrer"] == "ads"  # from the anonymous record
    assert person.email == "bob@example.com"
    assert set(person.identities.values_list("value", flat=True)) == {"anon-123"}
    assert list(person.accounts.values_list("group_id", flat=True)) == ["acme-1"]
    # Later calls with the old id land on the merged person.
    send(client, write_key, {"type": "track", "anonymousId": "anon-123", "event": "Clicked"})
    assert Person.objects.count() == 1


def test_alias_before_identify_then_calls_with_either_id_reach_one_person(
    client: Client, write_key: str
) -> None:
    send(client, write_key, {"type": "alias", "previousId": "old-id", "userId": "new-id"})
    send(
        client,
        write_key,
        {"type": "identify", "userId": "old-id", "traits": {"plan": "pro"}},
        {"type": "identify", "userId": "new-id", "traits": {"seats": 2}},
    )

    person = Person.objects.get()
    assert person.user_id == "new-id"
    assert person.traits == {"plan": "pro", "seats": 2}


def test_alias_renames_a_person_known_only_by_the_previous_user_id(client: Client, write_key: str) -> None:
    send(client, write_key, {"type": "identify", "userId": "crm-17", "traits": {"plan": "pro"}})
    send(client, write_key, {"type": "alias", "previousId": "crm-17", "userId": "app-17"})

    person = Person.objects.get()
    assert person.user_id == "app-17"
    assert Identity.objects.filter(person=person, value="crm-17", kind="alias").exists()


def test_group_creates_the_account_and_membership(client: Client, write_key: str) -> None:
    send(client, write_key, fixture("identify__camel_case"), fixture("group__account"))

    account = Account.objects.get(group_id="acme-1")
    assert (account.name, account.industry, account.employees, account.plan) == (
        "Acme Inc",
        "Software",
        120,
        "enterprise",
    )
    assert account.created_at == datetime(2020, 5, 6, tzinfo=UTC)
    assert account.traits["stage"] == "customer"
    assert account.traits["address"] == {"city": "Brussels"}
    assert list(Person.objects.get(user_id="u-camel").accounts.all()) == [account]


def test_one_batch_links_new_and_known_people_to_new_and_known_accounts(
    client: Client, write_key: str
) -> None:
    """The write-back makes new people and accounts and links them in the same statement: every
    identity and membership must reach the record it names, new or stored, whatever their order."""
    send(
        client,
        write_key,
        {"type": "group", "userId": "known", "groupId": "old-acct", "traits": {"name": "Old"}},
        {"type": "identify", "userId": "other", "anonymousId": "anon-other"},
    )
    group = {"type": "group", "traits": {"plan": "pro"}}
    send(
        client,
        write_key,
        {"type": "track", "anonymousId": "anon-1", "event": "Visited"},
        {**group, "userId": "new-a", "anonymousId": "anon-a", "groupId": "new-acct"},
        {**group, "userId": "known", "groupId": "new-acct"},
        {**group, "userId": "new-b", "anonymousId": "anon-b", "groupId": "old-acct"},
        {**group, "userId": "known", "groupId": "old-acct"},  # a membership already there
        {**group, "userId": "other", "groupId": "second-acct"},
        {**group, "userId": "new-a", "groupId": "second-acct"},
        {"type": "track", "anonymousId": "anon-2", "event": "Visited"},
    )

    identities = {i.value: i.person.user_id for i in Identity.objects.select_related("person")}
    assert identities == {
        "anon-other": "other",
        "anon-1": None,
        "anon-a": "new-a",
        "anon-b": "new-b",
        "anon-2": None,
    }
    assert Identity.objects.get(value="anon-1").person != Identity.objects.get(value="anon-2").person
    members = {(m.person.user_id, m.account.group_id) for m in Membership.objects.select_related()}
    assert members == {
        ("known", "old-acct"),
        ("new-a", "new-acct"),
        ("known", "new-acct"),
        ("new-b", "old-acct"),
        ("other", "second-acct"),
        ("new-a", "second-acct"),
    }
    assert Account.objects.count() == 3
    assert Account.objects.get(group_id="new-acct").plan == "pro"
    assert (Account.objects.get(group_id="old-acct").name, Account.objects.get(group_id="old-acct").plan) == (
        "Old",
        "pro",
    )
    assert Person.objects.count() == 6


def test_customersuccessbox_account_id_links_person_and_account_without_group(
    client: Client, write_key: str
) -> None:
    send(
        client,
        write_key,
        fixture("track__csb_feature"),
        {
            "type": "identify",
            "userId": "u-other",
            "traits": {"account_id": "csb-acc-9", "user_id": "u-other"},
        },
    )

    account = Account.objects.get(group_id="csb-acc-9")
    assert set(account.people.values_list("user_id", flat=True)) == {"u-csb", "u-other"}


def test_people_are_per_source(client: Client, write_key: str) -> None:
    from integrations.services import source_create

    _, other_key = source_create(name="Mobile", slug="mobile")
    send(client, write_key, {"type": "identify", "userId": "same", "traits": {"plan": "web"}})
    send(client, other_key, {"type": "identify", "userId": "same", "traits": {"plan": "app"}})

    assert sorted(Person.objects.values_list("traits__plan", flat=True)) == ["app", "web"]


def test_a_batch_of_mixed_calls_is_applied_in_timestamp_order(client: Client, write_key: str) -> None:
    send(
        client,
        write_key,
        {"type": "identify", "userId": "u1", "traits": {"plan": "late"}, "timestamp": "2026-03-01T12:00:00Z"},
        {
            "type": "identify",
            "userId": "u1",
            "traits": {"plan": "early"},
            "timestamp": "2026-03-01T08:00:00Z",
        },
        {
            "type": "group",
            "userId": "u1",
            "groupId": "g1",
            "traits": {"name": "G"},
            "timestamp": "2026-03-01T09:00:00Z",
        },
    )
    person = Person.objects.get(user_id="u1")
    assert person.traits["plan"] == "late"
    assert Membership.objects.filter(person=person, account__group_id="g1").exists()


def test_processing_many_identifies_costs_a_few_queries_not_one_per_event_or_trait(
    client: Client, write_key: str
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    traits = {f"trait_{i}": i for i in range(20)}

    def process(users: range) -> int:
        events = [
            {"type": "identify", "userId": f"u{i}", "traits": {**traits, "email": f"u{i}@example.com"}}
            for i in users
        ]
        before = InboundEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        client.post(
            "/v1/batch", json.dumps({"batch": events, "writeKey": write_key}), content_type="application/json"
        )
        ids = list(InboundEvent.objects.filter(pk__gt=before).values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as queries:
            assert inbound_events_process(ids=ids) == len(users)
        return len(queries)

    ten, hundred = process(range(10)), process(range(100, 200))
    # Updates of existing people, half new and half known:
    mixed = process(range(150, 250))

    # Constant, not one per event or trait (SQLite's bulk_update may split 100 rows in two statements).
    assert hundred <= ten + 1
    assert mixed <= hundred + 2
    assert hundred < 25
    assert Person.objects.count() == 160
    assert Person.objects.get(user_id="u142").traits["trait_19"] == 19


def test_a_processed_call_without_any_id_creates_nobody(source: Any) -> None:
    from django.utils import timezone

    event = InboundEvent.objects.create(
        source=source,
        message_id="webhook-1",
        type="track",
        event="webhook turnOnCollector",
        received_at=timezone.now(),
        payload={"type": "track", "event": "webhook turnOnCollector"},
    )

    assert inbound_events_process(ids=[event.pk]) == 1
    assert not Person.objects.exists()


def test_control_characters_in_traits_never_reach_the_columns_mail_headers_use(
    client: Client, write_key: str
) -> None:
    send(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u-inject",
            "traits": {
                "name": "Ann\r\nBcc: x@example.com",
                "first_name": "Ann\nBcc",
                "email": "ann@example.com",
                "language": "nl\r\nX-Evil: 1",
                "title": "CEO\x1b[31m",
                "description": "line one\nline two\x00",
                "plan": "pro\x0bmax",
            },
            "context": {"locale": "fr\nX", "timezone": "Europe/Brussels\nX"},
        },
        {"type": "identify", "userId": "u-locale", "context": {"locale": "de_DE\r\nBcc: y@example.com"}},
    )

    person = Person.objects.get(user_id="u-inject")
    assert person.name == "Ann Bcc: x@example.com"
    assert person.first_name == "Ann Bcc"
    assert person.language == "nl X-Evil: 1"
    for column in (person.name, person.first_name, person.last_name, person.email, person.language):
        assert not any(c in column for c in "\r\n\x00\x0b\x1b")
    assert person.timezone == ""  # not a zone: never stored
    assert person.traits["title"] == "CEO [31m"
    assert person.traits["description"] == "line one\nline two\ufffd"  # multi-line text keeps its lines
    assert person.traits["plan"] == "pro max"
    assert Person.objects.get(user_id="u-locale").language == "de-DE Bcc: y@example.com"
