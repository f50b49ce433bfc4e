"""Generic collector calls (integrations/webhook/handler.py, kind "api"): any tool adds a contact to a
collector with a JSON or form body; the action is the call's own. Pure parsing."""

import json

import pytest

from hub.errors import RequestError
from integrations.inbound import InboundContact, NoContact, WebhookRequest
from integrations.registry import webhook_handler_get
from integrations.webhook.handler import GenericCallHandler
from tests.conftest import FIXTURES

BODY = (FIXTURES / "webhook" / "addContactToCollector.json").read_bytes()


def call(body: bytes = BODY, form: dict[str, str] | None = None, **query: str) -> WebhookRequest:
    return WebhookRequest(
        method="POST",
        query={"apiToken": "t", "cId": "1", "source": "api", **query},
        headers={},
        body=body,
        form=form,
    )


def test_a_json_body_is_the_contact_and_its_other_fields_are_traits() -> None:
    parsed = GenericCallHandler().parse(request=call(action="addContactToCollector"))

    assert parsed.contact == InboundContact(
        email="ann@example.com", name="Ann Smit", language="nl", user_id="u-42", traits={"plan": "pro"}
    )
    assert (parsed.name, parsed.action, parsed.message_id) == (
        "webhook addContactToCollector",
        "addContactToCollector",
        "",
    )
    assert parsed.properties["body"] == json.loads(BODY)


def test_a_form_body_and_the_query_string_are_read_too() -> None:
    parsed = GenericCallHandler().parse(
        request=call(b"", form={"email": "bo@example.com"}, action="addContactToCollector", plan="team")
    )

    assert parsed.contact == InboundContact(email="bo@example.com", traits={"plan": "team"})


def test_without_an_email_there_is_no_contact_and_an_unknown_action_is_refused() -> None:
    no_email = GenericCallHandler().parse(request=call(b"{}", action="addContactToCollector"))
    assert no_email.contact == NoContact("the body needs an email (optionally name, language, user_id)")

    with pytest.raises(RequestError) as refused:
        GenericCallHandler().parse(request=call(action="explode"))
    assert (refused.value.status, refused.value.code) == (400, "unknown_action")


@pytest.mark.parametrize("source", ["api", "zapier", "", "segment"])
def test_a_source_that_is_no_collector_kind_is_a_generic_call(source: str) -> None:
    assert webhook_handler_get(source).kind == "api"
