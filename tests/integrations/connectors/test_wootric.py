"""The Wootric connector against a fake Wootric on a real local HTTP server: the OAuth token (form
body, cached, refreshed on 401), end users looked up by external id then created or updated, the
hub's answers recorded as Wootric responses, and what fails for good."""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
import pytest
from django.core.cache import cache
from pytest_httpserver import HTTPServer
from werkzeug import Request
from werkzeug import Response as WsgiResponse

from integrations.deliveries import deliveries_enqueue, destination_send_test
from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination, MappingSet
from integrations.registry import connector_get
from surveys.services.responses import response_followup_save, response_record
from tests.integrations.connectors.outbound import vendor_request
from tests.sources import source_default
from tests.surveys.factories_pages import page_invitation

pytestmark = pytest.mark.django_db

FORM = "application/x-www-form-urlencoded"
IDENTIFY = {
    "type": "identify",
    "messageId": "m-1",
    "userId": "u-42",
    "traits": {
        "email": "ann@example.com",
        "createdAt": "2023-11-14T22:13:20.600Z",
        "language": "nl",
        "plan": "pro",
        "seats": 12,
        "trial": False,
        "address": {"city": "Gent"},
        "nickname": None,
    },
}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str]
    content_type: str
    authorization: str


@dataclass
class FakeWootric:
    """Wootric's token endpoint and end-user API, as much as the connector uses, with its calls."""

    calls: list[Call] = field(default_factory=list)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    tokens_issued: int = 0
    valid_tokens: set[str] = field(default_factory=set)
    refuse_credentials: bool = False
    refuse_every_token: bool = False
    fail: dict[tuple[str, str], tuple[int, str]] = field(default_factory=dict)  # (method, path) -> answer

    def user_add(self, **fields: Any) -> dict[str, Any]:
        user = {"id": 900 + len(self.users), "properties": {}, **fields}
        self.users[user["id"]] = user
        return user

    def api(self) -> list[Call]:
        return [c for c in self.calls if c.path != "/oauth/token"]

    def token_calls(self) -> list[Call]:
        return [c for c in self.calls if c.path == "/oauth/token"]

    def __call__(self, request: Request) -> WsgiResponse:
        call = Call(
            method=request.method,
            path=request.path,
            query=dict(request.args),
            form=dict(request.form),
            content_type=request.headers.get("Content-Type", ""),
            authorization=request.headers.get("Authorization", ""),
        )
        self.calls.append(call)
        if call.path == "/oauth/token":
            if self.refuse_credentials:
                return json({"error": "invalid_grant"}, 401)
            self.tokens_issued += 1
            token = f"tok-{self.tokens_issued}"
            self.valid_tokens = {token}  # a new token replaces the old one
            return json({"access_token": token, "token_type": "bearer", "expires_in": 7200})
        if self.refuse_every_token or call.authorization.removeprefix("Bearer ") not in self.valid_tokens:
            return json({"error": "invalid_token"}, 401)
        if (call.method, call.path) in self.fail:
            status, body = self.fail[(call.method, call.path)]
            return WsgiResponse(body, status=status, content_type="application/json")
        return self.route(call)

    def route(self, call: Call) -> WsgiResponse:
        if call.method == "GET" and (m := re.fullmatch(r"/v1/end_users/([^/]+)", call.path)):
            assert call.query == {"lookup_by_external_id": "true"}
            user = next((u for u in self.users.values() if u.get("external_id") == m.group(1)), None)
            return json(user, 200) if user else json({"error": "Not found"}, 404)
        if call.method == "POST" and call.path == "/v1/end_users":
            return json(self.user_add(**call.form), 201)
        if call.method == "PUT" and (m := re.fullmatch(r"/v1/end_users/(\d+)", call.path)):
            self.users[int(m.group(1))].update(call.form)
            return json(self.users[int(m.group(1))])
        if call.method == "POST" and (m := re.fullmatch(r"/v1/end_users/(\d+)/responses", call.path)):
            return json({"id": 5000, **call.form}, 201)
        return json({"error": "no such route"}, 404)


def json(body: Any, status: int = 200) -> WsgiResponse:
    return WsgiResponse(orjson.dumps(body), status=status, content_type="application/json")


@pytest.fixture
def wootric(httpserver: HTTPServer) -> Iterator[FakeWootric]:
    fake = FakeWootric()
    httpserver.expect_request(re.compile(r"/.*")).respond_with_handler(fake)
    cache.clear()  # tokens of an earlier test's destination
    yield fake
    cache.clear()


def destination_make(httpserver: HTTPServer, **settings: Any) -> Destination:
    destination = Destination(
        source=source_default(),
        kind="wootric",
        name="Wootric",
        settings={"base_url": httpserver.url_for("").rstrip("/"), **settings},
        call_types=["identify", "response.created", "response.updated"],
        timeout_seconds=2.0,
    )
    destination.secrets_update(
        {"account_token": "NPS-4aeb53c1", "username": "ops@acme.example", "password": "pw-1"}
    )
    destination.save()
    return destination


def identify(key: str = "segment:1:m-1", **changes: Any) -> Delivery:
    (delivery,) = deliveries_enqueue(
        event_type="identify",
        data={**IDENTIFY, **changes},
        idempotency_key=key,
        source_id=source_default().pk,
    )
    return delivery


def test_the_token_is_requested_once_with_a_form_body_and_reused(
    wootric: FakeWootric, httpserver: HTTPServer
) -> None:
    destination_make(httpserver)
    identify("k-1")
    identify("k-2")

    assert deliveries_deliver_due() == 2

    (token_call,) = wootric.token_calls()
    assert token_call.method == "POST"
    assert token_call.query == {"account_token": "NPS-4aeb53c1"}
    assert token_call.content_type == FORM
    assert token_call.form == {"grant_type": "password", "username": "ops@acme.example", "password": "pw-1"}
    assert {c.authorization for c in wootric.api()} == {"Bearer tok-1"}
    assert list(Delivery.objects.values_list("status", flat=True)) == ["delivered", "delivered"]


def test_changed_credentials_take_a_new_token(wootric: FakeWootric, httpserver: HTTPServer) -> None:
    destination = destination_make(httpserver)
    identify("k-1")
    deliveries_deliver_due()

    destination.secrets_update({"username": "new@acme.example"})
    destination.save()
    identify("k-2")
    deliveries_deliver_due()

    assert [c.form["username"] for c in wootric.token_calls()] == ["ops@acme.example", "new@acme.example"]


def test_a_new_end_user_is_created_with_wootric_fields_and_properties(
    wootric: FakeWootric, httpserver: HTTPServer
) -> None:
    destination_make(httpserver)
    delivery = identify()

    deliveries_deliver_due()

    lookup, create = wootric.api()
    assert (lookup.method, lookup.path) == ("GET", "/v1/end_users/u-42")
    assert (create.method, create.path, create.content_type) == ("POST", "/v1/end_users", FORM)
    # external_created_at: 20.600 s rounds up, as Segment's Wootric integration does.
    assert create.form == vendor_request("wootric", "end_user_create")
    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert delivery.last_http_status == 201
    assert delivery.last_exchange is not None
    assert delivery.last_exchange["request_headers"]["Authorization"] != "Bearer tok-1"  # masked


def test_an_existing_end_user_is_updated_by_id_with_its_properties_kept(
    wootric: FakeWootric, httpserver: HTTPServer
) -> None:
    destination_make(httpserver)
    user = wootric.user_add(
        external_id="u-42", email="old@example.com", properties={"team": "blue", "plan": "free"}
    )

    identify(traits={"email": "ann@example.com", "plan": "pro"})
    deliveries_deliver_due()

    lookup, update = wootric.api()
    assert lookup.path == "/v1/end_users/u-42"
    assert (update.method, update.path, update.content_type) == ("PUT", f"/v1/end_users/{user['id']}", FORM)
    assert update.form == {"email": "ann@example.com", "properties[team]": "blue", "properties[plan]": "pro"}
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED


def test_the_destinations_own_mapping_replaces_the_preset(
    wootric: FakeWootric, httpserver: HTTPServer
) -> None:
    mapping_set = MappingSet.objects.create(
        name="Our Wootric users", slug="our-wootric", target="wootric.end_user"
    )
    mapping_set.rules.create(source_paths="traits.contact_email", target="email")
    mapping_set.rules.create(
        source_paths="traits.signedUpAt", target="external_created_at", transform="unix_seconds"
    )
    destination = destination_make(httpserver)
    destination.mapping_set = mapping_set
    destination.save()

    identify(traits={"contact_email": "ops@ann.example", "signedUpAt": "2023-11-14T22:13:20.600Z"})
    deliveries_deliver_due()

    _, create = wootric.api()
    assert create.form == {
        "email": "ops@ann.example",
        "external_id": "u-42",
        "external_created_at": "1700000000",
        "properties[contact_email]": "ops@ann.example",
        "properties[signedUpAt]": "2023-11-14T22:13:20.600Z",
    }


def test_answers_are_recorded_as_wootric_responses_when_forwarding_is_on(
    wootric: FakeWootric, httpserver: HTTPServer, settings: Any
) -> None:
    settings.HUB_BASE_URL = "https://feedback.acme.example"
    destination_make(httpserver, forward_responses=True, ip_address="203.0.113.9")
    user = wootric.user_add(external_id="u-42", email="ann@example.com")
    response = response_record(invitation=page_invitation(), rating=6)
    response_followup_save(response=response, comment="Too slow", tag_ratings={})

    assert deliveries_deliver_due() == 2

    posts = [c for c in wootric.api() if c.method == "POST"]
    assert [c.path for c in posts] == [f"/v1/end_users/{user['id']}/responses"] * 2
    assert all(c.content_type == FORM for c in posts)
    created_at = str(round(response.answered_at.timestamp()))
    assert posts[0].form == {
        "score": "6",
        "origin_url": "https://feedback.acme.example",
        "ip_address": "203.0.113.9",
        "created_at": created_at,
    }
    assert posts[1].form == {**posts[0].form, "text": "Too slow"}
    assert not [c for c in wootric.api() if c.method == "PUT"]  # an answer does not rewrite the end user


def test_answers_of_a_person_unknown_to_wootric_create_the_end_user_first(
    wootric: FakeWootric, httpserver: HTTPServer
) -> None:
    destination_make(httpserver, forward_responses=True)
    response_record(invitation=page_invitation(), rating=10)

    deliveries_deliver_due()

    lookup, create, post = wootric.api()
    assert (lookup.method, create.method) == ("GET", "POST")
    assert create.form == {"email": "ann@example.com", "external_id": "u-42"}
    assert post.path == f"/v1/end_users/{next(iter(wootric.users))}/responses"
    assert post.form["score"] == "10"
    assert post.form["ip_address"] == "0.0.0.0"  # noqa: S104 - the documented stand-in, not a bind


def test_answers_are_not_sent_without_forward_responses(wootric: FakeWootric, httpserver: HTTPServer) -> None:
    destination_make(httpserver)
    response_record(invitation=page_invitation(), rating=10)
    assert not Delivery.objects.exists()


def test_a_401_takes_a_new_token_and_repeats_the_call_once(
    wootric: FakeWootric, httpserver: HTTPServer
) -> None:
    destination_make(httpserver)
    wootric.user_add(external_id="u-42", email="ann@example.com")
    identify("k-1")
    deliveries_deliver_due()
    wootric.valid_tokens = {"tok-elsewhere"}  # Wootric revoked our cached tok-1 (e.g. a new login elsewhere)

    delivery = identify("k-2")
    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.DELIVERED
    assert len(wootric.token_calls()) == 2
    later = wootric.api()[2:]
    assert [(c.method, c.authorization) for c in later] == [
        ("GET", "Bearer tok-1"),  # 401
        ("GET", "Bearer tok-2"),
        ("PUT", "Bearer tok-2"),
    ]


def test_a_401_with_a_new_token_fails_for_good_with_the_reason(
    wootric: FakeWootric, httpserver: HTTPServer
) -> None:
    destination_make(httpserver)
    identify("k-1")
    deliveries_deliver_due()
    wootric.refuse_every_token = True

    delivery = identify("k-2")
    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == 1
    assert "Wootric refused a new access token (HTTP 401" in delivery.last_error
    assert len(wootric.token_calls()) == 2  # the first delivery's, then one refresh
    assert deliveries_deliver_due() == 0


def test_refused_credentials_fail_for_good_with_the_reason(
    wootric: FakeWootric, httpserver: HTTPServer
) -> None:
    destination_make(httpserver)
    wootric.refuse_credentials = True
    delivery = identify()

    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert "Wootric refused the credentials (HTTP 401 from /oauth/token)" in delivery.last_error
    assert delivery.last_exchange is not None
    assert "pw-1" not in delivery.last_exchange["request_body"]  # secrets masked
    assert "NPS-4aeb53c1" not in delivery.last_exchange["url"]


def test_a_400_from_wootric_fails_the_delivery_without_retry(
    wootric: FakeWootric, httpserver: HTTPServer
) -> None:
    destination_make(httpserver)
    wootric.fail[("POST", "/v1/end_users")] = (400, '{"errors": ["email is invalid"]}')
    delivery = identify()

    assert deliveries_deliver_due() == 1
    assert deliveries_deliver_due() == 0

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.last_http_status == 400
    assert "email is invalid" in delivery.last_error
    assert delivery.attempts == 1


def test_a_5xx_from_wootric_is_retried(wootric: FakeWootric, httpserver: HTTPServer) -> None:
    destination_make(httpserver)
    wootric.fail[("POST", "/v1/end_users")] = (503, "{}")
    delivery = identify()

    deliveries_deliver_due()

    delivery.refresh_from_db()
    assert delivery.status == Delivery.Status.PENDING
    assert delivery.last_http_status == 503


def test_calls_wootric_cannot_take_are_skipped_or_refused(
    wootric: FakeWootric, httpserver: HTTPServer
) -> None:
    destination = destination_make(httpserver)
    destination.call_types = ["identify", "track"]
    destination.save()

    anonymous = {**IDENTIFY, "userId": None, "anonymousId": "a-1"}
    assert (
        deliveries_enqueue(
            event_type="identify", data=anonymous, idempotency_key="anon", source_id=source_default().pk
        )
        == []
    )
    (track,) = deliveries_enqueue(
        event_type="track", data={"event": "Signed Up"}, idempotency_key="t", source_id=source_default().pk
    )
    assert track.status == Delivery.Status.FAILED
    assert "Wootric takes identify calls" in track.last_error
    assert wootric.calls == []


def test_send_test_fetches_a_token_and_shows_it_masked(wootric: FakeWootric, httpserver: HTTPServer) -> None:
    destination = destination_make(httpserver)

    exchange, error = destination_send_test(destination=destination)

    assert error == ""
    assert exchange is not None
    assert exchange.status == 200
    assert "tok-1" not in exchange.response_body


def test_the_configuration_is_checked(wootric: FakeWootric, httpserver: HTTPServer) -> None:
    destination = destination_make(httpserver)
    connector = connector_get("wootric")
    assert connector.validate(settings=destination.settings, secrets=destination.secret_values()) == []
    assert connector.validate(settings={"forward_responses": "yes"}, secrets={"username": "ops"}) == [
        "settings: 'forward_responses' is true or false.",
        "secrets: 'username' and 'password' (or 'client_id' and 'client_secret') are required.",
    ]
