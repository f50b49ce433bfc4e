"""integrations/intercom/handler.py: signatures over raw bytes, the envelope, the customer per topic."""

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from hub.errors import RequestError
from integrations.intercom.handler import (
    TOPIC_CONTACTS,
    IntercomContact,
    NoContact,
    UnsupportedTopic,
    contact_find,
    notification_parse,
    signature_make,
    signature_valid,
)
from tests.integrations.intercom.support import SECRET, fixture_bytes, fixture_names

TESTS = Path(__file__).resolve().parents[2]


def test_the_signature_is_hmac_sha1_of_the_raw_body_with_a_sha1_prefix() -> None:
    raw = fixture_bytes("conversation_admin_closed")
    expected = "sha1=" + hmac.new(SECRET.encode(), raw, hashlib.sha1).hexdigest()
    assert signature_make(raw, SECRET) == expected
    assert signature_valid(raw, expected, SECRET)
    assert signature_valid(raw, expected.upper().replace("SHA1=", "sha1="), SECRET)


def test_a_signature_over_re_serialised_json_does_not_verify() -> None:
    raw = fixture_bytes("conversation_admin_closed")
    reserialised = json.dumps(json.loads(raw)).encode()
    assert reserialised != raw
    assert not signature_valid(raw, signature_make(reserialised, SECRET), SECRET)


@pytest.mark.parametrize(
    "header",
    [None, "", "sha1=", "0" * 40, "sha256=" + "0" * 64, "sha1=" + "0" * 40, "sha1=not-hex"],
)
def test_missing_or_wrong_signatures_do_not_verify(header: str | None) -> None:
    assert not signature_valid(fixture_bytes("ping"), header, SECRET)


def test_a_signature_made_with_another_secret_does_not_verify() -> None:
    raw = fixture_bytes("ping")
    assert not signature_valid(raw, signature_make(raw, "another secret"), SECRET)


def test_ping_has_a_null_id() -> None:
    notification = notification_parse(fixture_bytes("ping"))
    assert notification.topic == "ping"
    assert notification.id is None
    assert notification.app_id == "k7qz2mfa"


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "invalid_json"),
        (b"[]", "invalid_json"),
        (b'{"type": "notification_event"}', "invalid_notification"),
    ],
)
def test_bodies_that_are_not_notifications_are_refused(raw: bytes, code: str) -> None:
    with pytest.raises(RequestError) as error:
        notification_parse(raw)
    assert (error.value.status, error.value.code) == (400, code)


def test_legacy_conversation_names_the_customer_in_item_user() -> None:
    notification = notification_parse(fixture_bytes("conversation_admin_closed"))
    assert notification.id == "notif_7d2f4a10-3c5e-4b8e-9a61-2f0c8e1d5b77"
    assert contact_find(notification) == IntercomContact(
        email="Ann.Peeters@example.com",
        name="Ann Peeters",
        external_id="cust-1042",
        intercom_id="6745c1d2e8a1b2001f3c9a10",
    )


def test_v2_conversation_names_the_customer_as_source_author_not_in_contacts() -> None:
    found = contact_find(notification_parse(fixture_bytes("conversation_admin_closed__v2")))
    assert isinstance(found, IntercomContact)
    assert (found.email, found.name, found.intercom_id) == (
        "jules.martin@example.org",
        "Jules Martin",
        "6745c9f0e8a1b2001f3c9b44",
    )


def test_v2_conversation_started_by_an_admin_names_the_customer_by_contact_id_only() -> None:
    found = contact_find(notification_parse(fixture_bytes("conversation_admin_closed__v2_no_author")))
    assert found == IntercomContact(intercom_id="6745d011e8a1b2001f3c9c90")


def test_a_conversation_without_any_customer_says_so() -> None:
    body = json.loads(fixture_bytes("conversation_admin_closed__v2_no_author"))
    del body["data"]["item"]["contacts"]
    found = contact_find(notification_parse(json.dumps(body).encode()))
    assert isinstance(found, NoContact)
    assert "no item.user" in found.reason


def test_a_topic_without_a_handler_is_unsupported() -> None:
    assert contact_find(notification_parse(fixture_bytes("contact_created"))) == UnsupportedTopic(
        "contact.created"
    )


def test_every_topic_handler_has_a_fixture() -> None:
    topics_with_fixtures = {notification_parse(fixture_bytes(name)).topic for name in fixture_names()}
    handled = {
        handler: [topic for topic in TOPIC_CONTACTS if TOPIC_CONTACTS[topic] is handler]
        for handler in set(TOPIC_CONTACTS.values())
    }
    for handler, topics in handled.items():
        assert topics_with_fixtures & set(topics), f"{handler.__name__} has no fixture"


def test_every_intercom_fixture_is_used_by_a_test() -> None:
    sources = "\n".join(path.read_text() for path in TESTS.rglob("test_*.py"))
    unused = [name for name in fixture_names() if f'"{name}"' not in sources]
    assert not unused, f"fixtures without a test: {unused}"
