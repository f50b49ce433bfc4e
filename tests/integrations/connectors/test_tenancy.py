"""Tenancy: a destination receives only its own source's people. Two sources both know a customer
"u-42" (different people: Ann in A, Bob in B); every kind of destination of source A gets Ann's calls
and answers and nothing of Bob's, whatever arrives through the intake or the survey pages."""

import base64
import re
from typing import Any

import orjson
import pytest
from django.test import Client
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from customers.models import Person
from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination, InboundEvent, MappingRule, Source
from integrations.services import inbound_events_process, source_create
from surveys.models import Invitation, Survey
from surveys.services.responses import response_followup_save, response_record
from surveys.services.sync_back import sync_back_run
from tests.integrations.connectors.outbound import destination_create, presets  # noqa: F401

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("presets")]

ANN = {"email": "ann@a.example", "name": "Ann Alpha", "language": "nl", "comment": "alpha-comment"}
BOB = {"email": "bob@b.example", "name": "Bob Beta", "language": "nl", "comment": "beta-comment"}
WHEN = "2026-11-02T09:00:00Z"


def calls(person: dict[str, str], tag: str) -> list[dict[str, Any]]:
    """What a source sends about its u-42: identify, group, track (Segment calls, own messageIds)."""
    traits = {
        "email": person["email"],
        "name": person["name"],
        "language": person["language"],
        "account_id": "acct-1",  # CustomerSuccessBox files users and usage under an account
    }
    return [
        {"type": "identify", "userId": "u-42", "traits": traits, "messageId": f"{tag}-1", "timestamp": WHEN},
        {"type": "group", "userId": "u-42", "groupId": "acct-1", "traits": {"name": f"{tag} Inc"},
         "messageId": f"{tag}-2", "timestamp": WHEN},
        {"type": "track", "userId": "u-42", "event": "Trial Started", "messageId": f"{tag}-3",
         "properties": {"email": person["email"], "account_id": "acct-1"}, "context": {"traits": traits},
         "timestamp": WHEN},
    ]  # fmt: skip


def send(client: Client, key: str, batch: list[dict[str, Any]]) -> None:
    """POST the calls to the intake and process them (as the worker does after commit)."""
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    response = client.post(
        "/v1/batch", orjson.dumps({"batch": batch}), content_type="application/json", HTTP_AUTHORIZATION=auth
    )
    assert response.status_code == 200, response.content
    waiting = InboundEvent.objects.filter(status=InboundEvent.Status.ACCEPTED)
    inbound_events_process(ids=list(waiting.values_list("pk", flat=True)))


def answer(source: Source, person: dict[str, str]) -> None:
    """u-42 of `source` answers a survey (6, then a comment): response.created and response.updated."""
    survey, _ = Survey.objects.get_or_create(slug="nps", defaults={"name": "NPS"})
    customer = Person.objects.get(source=source, user_id="u-42")
    invitation = Invitation.objects.create(
        survey=survey, person=customer, due_at=customer.first_seen_at, status=Invitation.Status.SENT
    )
    response = response_record(invitation=invitation, rating=6)
    response_followup_save(response=response, comment=person["comment"], tag_ratings={})


class Vendor:
    """One local server standing in for every vendor: answers what each connector needs and keeps
    every request it got (URL and body) for the checks."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, request: Request) -> Response:
        self.seen.append(f"{request.method} {request.url}\n{request.get_data(as_text=True)}")
        path = request.path
        if path.endswith("/oauth/token"):
            return Response(orjson.dumps({"access_token": "tok-1", "expires_in": 7200}), 200)
        if request.method == "GET" and "/end_users/" in path:
            return Response(b'{"error": "not found"}', 404, content_type="application/json")
        return Response(b'{"id": 1, "ok": true}', 200, content_type="application/json")

    def text(self) -> str:
        return "\n".join(self.seen)


def destinations_of(source: Source, base: str) -> list[Destination]:
    """One destination of each connector kind, all belonging to `source`."""
    rule = MappingRule.objects.get(mapping_set__target="hellocustomer.respondent", target="language_UniqueID")
    rule.options = {"table": {"nl": "9f0c6b7e-4c1a-4f3e-8a7d-1b2c3d4e5f60"}}
    rule.save()
    made = [
        destination_create(
            "webhook",
            source=source,
            settings={"url": f"{base}/hook"},
            secrets={"signing_secret": "whsec_" + base64.b64encode(b"k" * 32).decode()},
            call_types=["identify", "group", "track", "response.created", "response.updated"],
        ),
        destination_create(
            "hello_customer",
            source=source,
            settings={"base_url": base, "touchpoint_unique_id": "5b1e8a3c-0d0a-4c55-9f1e-2a7a3f1c0b11"},
            secrets={"api_key": "hc-key"},
            call_types=["identify", "track"],
        ),
        destination_create(
            "customersuccessbox",
            source=source,
            settings={"base_url": base},
            secrets={"api_key": "csb-key"},
            call_types=["identify", "group", "track"],
        ),
        destination_create(
            "wootric",
            source=source,
            settings={"base_url": base, "forward_responses": True, "ip_address": "203.0.113.9"},
            secrets={"account_token": "NPS-1", "username": "ops@a.example", "password": "pw"},
            call_types=["identify", "response.created", "response.updated"],
        ),
        destination_create(
            "surveylab",
            source=source,
            settings={"api_link": f"{base}/api.php?cId=1", "actions": {"identify": "addContactToCollector"}},
            secrets={"api_token": "sl-token"},
            call_types=["identify"],
        ),
    ]
    segment = destination_create(
        "segment", source=source, settings={"api_host": base}, secrets={"write_key": "w"}
    )
    return [*made, segment]


def test_every_kind_of_destination_gets_only_its_own_sources_people(httpserver: HTTPServer) -> None:
    vendor = Vendor()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(vendor)
    source_a, key_a = source_create(name="A", slug="company-a")
    source_b, key_b = source_create(name="B", slug="company-b")
    *forwarding, segment = destinations_of(source_a, httpserver.url_for("").rstrip("/"))
    client = Client()

    send(client, key_b, calls(BOB, "b"))
    send(client, key_a, calls(ANN, "a"))
    answer(source_b, BOB)
    answer(source_a, ANN)
    deliveries_deliver_due()
    report = sync_back_run(destination=segment, settle_seconds=0)

    seen = vendor.text()
    for secret_of_b in (BOB["email"], BOB["name"], BOB["comment"], "b-1", "b-2", "b-3", "b Inc"):
        assert secret_of_b not in seen, f"{secret_of_b!r} of source B reached a destination of source A"
    stored = orjson.dumps(list(Delivery.objects.values("payload", "last_exchange"))).decode()
    assert BOB["email"] not in stored
    assert BOB["comment"] not in stored
    # Each kind really received Ann, so the check above is not vacuous.
    for destination in forwarding:
        sent = Delivery.objects.filter(destination=destination, status=Delivery.Status.DELIVERED)
        assert sent.exists(), f"{destination.kind} received nothing of source A"
        assert ANN["email"] in orjson.dumps(list(sent.values_list("payload", flat=True))).decode()
    assert (report.status, report.people) == ("done", 1)
    assert ANN["comment"] in seen


def test_a_destination_of_source_b_hears_of_b_only(httpserver: HTTPServer) -> None:
    source_a, key_a = source_create(name="A", slug="company-a")
    source_b, key_b = source_create(name="B", slug="company-b")
    base = httpserver.url_for("/hook")
    hook_b = destination_create(
        "webhook",
        source=source_b,
        settings={"url": base},
        secrets={"signing_secret": "whsec_" + base64.b64encode(b"k" * 32).decode()},
        call_types=["identify", "response.created"],
    )
    client = Client()

    send(client, key_a, calls(ANN, "a"))
    send(client, key_b, calls(BOB, "b"))
    answer(source_a, ANN)
    answer(source_b, BOB)

    kinds = sorted(Delivery.objects.filter(destination=hook_b).values_list("event_type", flat=True))
    assert kinds == ["identify", "response.created"]
    payloads = orjson.dumps(list(Delivery.objects.values_list("payload", flat=True))).decode()
    assert ANN["email"] not in payloads
    assert BOB["email"] in payloads
