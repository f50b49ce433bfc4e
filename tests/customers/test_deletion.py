"""GDPR: a Segment `delete` (or the admin's "erase person") erases the person and keeps them erased."""

import json
from typing import Any

import pytest
from django.test import Client

from customers.models import Account, DeletionReceipt, Identity, Person, Suppression, suppression_hash
from customers.services import person_erase
from integrations.models import InboundEvent, Source
from tests.customers.test_people import fixture, send

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
