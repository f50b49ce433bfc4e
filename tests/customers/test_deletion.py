"""GDPR: a Segment `delete` (or the admin's "erase person") erases the person and keeps them erased."""

import json
from typing import Any

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.db import transaction
from django.test import Client

from customers.models import (
    Account,
    DeletionReceipt,
    Identity,
    Person,
    PersonDeleteRefused,
    Suppression,
    suppression_hash,
)
from customers.services.erasure import person_erase
from integrations.models import InboundEvent, Source
from integrations.services import source_create
from tests.customers.test_people import fixture, send
from tests.pii import pii_hits

pytestmark = pytest.mark.django_db


def test_a_delete_call_erases_the_person_and_their_event_log_and_leaves_a_receipt(
    client: Client, source: Source, write_key: str
) -> None:
    send(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u-gdpr-1",
            "anonymousId": "anon-g",
            "traits": {"email": "gone@example.com", "firstName": "Gone"},
        },
        {"type": "group", "userId": "u-gdpr-1", "groupId": "acme", "traits": {"name": "Acme"}},
        {"type": "track", "anonymousId": "anon-g", "event": "Clicked", "properties": {"note": "private"}},
        {"type": "identify", "userId": "someone-else", "traits": {"email": "stay@example.com"}},
    )

    [delete] = send(client, write_key, fixture("delete"))

    assert not Person.objects.filter(user_id="u-gdpr-1").exists()
    assert not Identity.objects.filter(value="anon-g").exists()
    assert Account.objects.filter(group_id="acme").exists()  # the company is not the person
    assert Person.objects.filter(user_id="someone-else").exists()
    log = InboundEvent.objects.exclude(user_id="someone-else")
    assert all(e.payload == {"erased": True} and e.user_id == "" and e.anonymous_id == "" for e in log)
    assert "gone@example.com" not in json.dumps(list(InboundEvent.objects.values_list("payload", flat=True)))
    assert delete.status == "processed"
    receipt = DeletionReceipt.objects.get()
    assert receipt.requested_by == "source web-app"
    assert receipt.erased["people"] == 1
    assert receipt.erased["events"] == 4  # identify, group, track and the delete call itself
    assert "u-gdpr-1" not in json.dumps(receipt.erased)
    assert receipt.user_id_hash


def test_a_fresh_identify_after_delete_does_not_recreate_the_person(client: Client, write_key: str) -> None:
    send(
        client, write_key, {"type": "identify", "userId": "u-gdpr-1", "traits": {"email": "gone@example.com"}}
    )
    send(client, write_key, fixture("delete"))

    [again] = send(
        client, write_key, {"type": "identify", "userId": "u-gdpr-1", "traits": {"email": "gone@example.com"}}
    )
    [by_email] = send(
        client,
        write_key,
        {"type": "identify", "userId": "new-account-77", "traits": {"email": "GONE@example.com"}},
    )

    assert not Person.objects.exists()
    assert "erased on request" in again.reason
    assert again.payload == {"erased": True}
    assert "erased on request" in by_email.reason
    assert Suppression.objects.filter(kind="user_id").exists()
    assert Suppression.objects.filter(kind="email").exists()
    # Suppressions hold hashes, never the id or the email.
    assert "gone@example.com" not in json.dumps(
        list(Suppression.objects.values_list("value_hash", flat=True))
    )


def test_a_delete_for_an_unknown_user_is_still_honoured_later(client: Client, write_key: str) -> None:
    send(client, write_key, fixture("delete"))
    send(client, write_key, {"type": "identify", "userId": "u-gdpr-1", "traits": {"plan": "pro"}})

    assert not Person.objects.exists()
    assert DeletionReceipt.objects.get().erased["people"] == 0


def test_erase_from_the_admin_names_the_staff_member(client: Client, source: Source, write_key: str) -> None:
    send(client, write_key, {"type": "identify", "userId": "u5", "traits": {"email": "u5@example.com"}})

    receipt = person_erase(source=source, user_id="u5", requested_by="staff admin")

    assert receipt.requested_by == "staff admin"
    assert not Person.objects.exists()


def test_the_admin_erase_action_and_receipt_page(
    admin_client: Any, client: Client, source: Source, write_key: str
) -> None:
    send(client, write_key, {"type": "identify", "userId": "u6", "traits": {"email": "u6@example.com"}})
    person = Person.objects.get()

    response = admin_client.post(
        "/admin/customers/person/", {"action": "erase_people", "_selected_action": [person.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "Erased 1 person" in response.content.decode()
    assert not Person.objects.exists()
    receipt = DeletionReceipt.objects.get()
    assert receipt.requested_by == "staff admin"
    page = admin_client.get(f"/admin/customers/deletionreceipt/{receipt.pk}/change/").content.decode()
    assert "staff admin" in page
    assert "people" in page


def test_unsubscribed_people_keep_their_record_only_erasure_stops_it(
    client: Client, source: Source, write_key: str
) -> None:
    Suppression.objects.create(
        source=source,
        kind="email",
        value_hash=suppression_hash("email", "u7@example.com"),
        reason="unsubscribed",
    )

    send(
        client,
        write_key,
        {"type": "identify", "userId": "u7", "traits": {"email": "u7@example.com", "plan": "pro"}},
    )

    assert Person.objects.get(user_id="u7").traits["plan"] == "pro"


# --- Django's own delete buttons are the erasure too ---------------------------------------------------


def admin_person(client: Client, write_key: str, user_id: str = "u8") -> Person:
    send(
        client,
        write_key,
        {
            "type": "identify",
            "userId": user_id,
            "anonymousId": f"anon-{user_id}",
            "traits": {"email": f"{user_id}-7f3a@example.com", "name": f"Name of {user_id} 7f3a"},
        },
    )
    return Person.objects.get(user_id=user_id)


def test_the_admins_delete_button_erases_with_suppressions_and_a_receipt(
    admin_client: Any, client: Client, write_key: str
) -> None:
    person = admin_person(client, write_key)
    page = admin_client.get(f"/admin/customers/person/{person.pk}/delete/")
    assert "is a GDPR erasure" in page.content.decode()  # staff are told what the button does

    done = admin_client.post(f"/admin/customers/person/{person.pk}/delete/", {"post": "yes"}, follow=True)

    assert done.status_code == 200
    assert "u8-7f3a@example.com" not in done.content.decode()  # not even in the "deleted" message
    assert not Person.objects.exists()
    receipt = DeletionReceipt.objects.get()
    assert (receipt.requested_by, receipt.erased["people"]) == ("staff admin", 1)
    kinds = set(Suppression.objects.filter(reason="deleted").values_list("kind", flat=True))
    assert kinds == {"user_id", "email"}
    assert pii_hits("u8-7f3a@example.com", "anon-u8", "Name of u8 7f3a") == []  # the admin's log included
    assert LogEntry.objects.filter(action_flag=DELETION).count() == 1  # who did it stays known


def test_delete_selected_erases_each_person_with_a_receipt(
    admin_client: Any, client: Client, write_key: str
) -> None:
    people = [admin_person(client, write_key, user_id) for user_id in ("u9", "u10")]
    selected = {"action": "delete_selected", "_selected_action": [p.pk for p in people]}
    assert "is a GDPR erasure" in admin_client.post("/admin/customers/person/", selected).content.decode()

    done = admin_client.post(
        "/admin/customers/person/",
        {"action": "delete_selected", "_selected_action": [p.pk for p in people], "post": "yes"},
        follow=True,
    )

    assert done.status_code == 200
    assert not Person.objects.exists()
    assert DeletionReceipt.objects.filter(requested_by="staff admin").count() == 2
    assert Suppression.objects.filter(reason="deleted", kind="email").count() == 2
    assert pii_hits("u9-7f3a@example.com", "u10-7f3a@example.com", "anon-u9", "anon-u10") == []


def test_a_person_is_never_deleted_without_erasure(client: Client, write_key: str) -> None:
    person = admin_person(client, write_key)

    with pytest.raises(PersonDeleteRefused), transaction.atomic():
        person.delete()
    with pytest.raises(PersonDeleteRefused), transaction.atomic():
        Person.objects.all().delete()

    assert Person.objects.filter(pk=person.pk).exists()


def test_calls_in_the_same_batch_as_the_delete_keep_no_trait_in_their_notes(
    client: Client, write_key: str
) -> None:
    events = send(
        client,
        write_key,
        {
            "type": "identify",
            "userId": "u11",
            "traits": {"email": "u11@example.com", "createdAt": "7f3a-day"},
        },
        {"type": "delete", "userId": "u11"},
    )

    assert [e.status for e in events] == ["processed", "processed"]
    assert pii_hits("7f3a-day", "u11@example.com") == []


def test_a_sources_delete_never_erases_another_sources_customer_with_the_same_email(
    client: Client, source: Source, write_key: str
) -> None:
    other, other_key = source_create(name="Other app", slug="other-app")
    same = {"type": "identify", "userId": "u-gdpr-1", "traits": {"email": "shared@example.com"}}
    send(client, other_key, {**same, "messageId": "other-1"})
    send(client, write_key, same)

    send(client, write_key, fixture("delete"))

    assert not Person.objects.filter(source=source, user_id="u-gdpr-1").exists()
    kept = Person.objects.get(source=other, user_id="u-gdpr-1")
    assert kept.email == "shared@example.com"
    assert InboundEvent.objects.get(source=other, message_id="other-1").payload["traits"]["email"]
