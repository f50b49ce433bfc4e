"""Erasure leaves nothing behind: a person seeded in every table the hub has (their calls by every id,
an answer with a comment and a quote of it, hub events, a sync-back batch, a forwarded call to each
connector kind, two collector calls) is erased by a `delete` call, then every text and JSON column of
every model is searched for their email, ids, name and comment (tests/pii.py walks
`apps.get_models()`)."""

import json
import re

import orjson
import pytest
from django.test import Client
from pytest_httpserver import HTTPServer
from werkzeug import Request
from werkzeug import Response as WsgiResponse

from actions.models import AlertRule, AutoReply, Case
from actions.services.alerts import alerts_digest_send
from actions.services.cases import case_save
from customers.models import DeletionReceipt, Person, Suppression
from insights.models import CommentAnalysis
from insights.services.comments import comments_sweep
from integrations.base import ALERT_KINDS
from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination, Source
from surveys.models import Invitation, Response
from surveys.services.dispatch import invitations_dispatch_due
from surveys.services.responses import person_unsubscribe, response_followup_save, response_record
from surveys.services.sync_back import sync_back_run
from testimonials.models import Testimonial
from tests.customers.test_people import send
from tests.integrations.connectors.outbound import destination_create, presets  # noqa: F401
from tests.integrations.delivery.conftest import SECRET as WEBHOOK_SECRET
from tests.integrations.intercom.support import (
    SECRET as INTERCOM_SECRET,
)
from tests.integrations.intercom.support import (
    CaptureOnCommit,
    collector_make,
    fixture_bytes,
    intercom_post,
    link,
)
from tests.pii import pii_hits, scanned_columns
from tests.surveys.factories import invitation_make, survey_make
from tests.surveys.sync_back.conftest import segment_destination

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("presets")]

EMAIL = "erase-me-7f3a@example.com"
USER_ID = "u-erase-7f3a"
ANONYMOUS_ID = "anon-erase-7f3a"
FORMER_ID = "old-erase-7f3a"  # their userId before an alias
LAST_NAME = "Erasewell7f3a"
COMMENT = "the invoice of 7f3a was wrong twice"
PERSONAL = (EMAIL, USER_ID, ANONYMOUS_ID, FORMER_ID, LAST_NAME, COMMENT)
# Someone else, in the same batches: erasure must not take them along.
KEEP_ID, KEEP_EMAIL, KEEP_COMMENT = "u-keep-7f3a", "keep-7f3a@example.com", "all good at 7f3a"

HUB_EVENTS = ["response.created", "response.updated", "invitation.sent", "person.unsubscribed"]
SEGMENT_CALLS = ["identify", "track", "group", "alias", "delete"]


def vendor(request: Request) -> WsgiResponse:
    """Every vendor at once, answering as the hub expects and echoing what it got (as many APIs do),
    so that stored response excerpts hold personal data too."""
    if request.path == "/oauth/token":
        return WsgiResponse(orjson.dumps({"access_token": "wootric-token-0123", "expires_in": 7200}))
    if request.method == "GET" and request.path.startswith("/v1/end_users/"):
        return WsgiResponse(b'{"error": "not found"}', status=404, content_type="application/json")
    echo = {"id": 901, "received": request.get_data(as_text=True), "query": request.query_string.decode()}
    return WsgiResponse(orjson.dumps(echo), status=200, content_type="application/json")


@pytest.fixture
def destinations(httpserver: HTTPServer, source: Source) -> list[Destination]:
    httpserver.expect_request(re.compile("^/")).respond_with_handler(vendor)
    base = httpserver.url_for("").rstrip("/")
    made = [
        destination_create(
            "webhook",
            settings={"url": f"{base}/hooks"},
            secrets={"signing_secret": WEBHOOK_SECRET},
            call_types=SEGMENT_CALLS + HUB_EVENTS,
        ),
        destination_create(
            "hello_customer",
            settings={"base_url": base, "touchpoint_unique_id": "tp-1"},
            secrets={"api_key": "hc-key-0123"},
            call_types=["identify"],
        ),
        destination_create(
            "wootric",
            settings={"base_url": base, "forward_responses": True},
            secrets={"username": "ops@acme.example", "password": "pw-0123"},
            call_types=["identify", "response.created"],
        ),
        destination_create(
            "customersuccessbox",
            settings={"base_url": base},
            secrets={"api_key": "csb-key-0123"},
            call_types=["identify", "group", "track"],
        ),
        destination_create(
            "surveylab",
            settings={"api_link": f"{base}/api.php?cId=4711"},
            secrets={"api_token": "sl-token-0123"},
            call_types=["identify"],
        ),
        destination_create(
            "slack",
            settings={"base_url": base},
            secrets={"webhook_url": f"{base}/services/T1/B2/x7f3a"},
            call_types=[],
        ),
        destination_create("staff_email", settings={"to": ["cs@acme.example"]}, secrets={}, call_types=[]),
        segment_destination(base, source),
    ]
    return made


def acting_on_answers(destinations: list[Destination]) -> None:
    """Alerts at once (to every alert channel) and in a daily digest, an auto-reply for detractors."""
    channels = [d for d in destinations if d.kind in ALERT_KINDS]
    AlertRule.objects.create(name="Detractors at once").destinations.set(channels)
    AlertRule.objects.create(name="Detractors daily", timing=AlertRule.Timing.DAILY).destinations.set(
        channels
    )
    AutoReply.objects.create(name="Sorry", band="detractor", subject="Sorry", body="We will call you.")


def case_worked(response: Response) -> None:
    """Staff note and reply on the detractor's case: both quote the customer."""
    case = Case.objects.get(response=response)
    case.status = Case.Status.CLOSED
    case_save(
        case=case,
        by=None,
        changed=["status"],
        previous_status=Case.Status.OPEN,
        note=f"Called Rasmus {LAST_NAME} about it.",
        reply=f"You wrote: {COMMENT}. Fixed.",
        followup=True,
    )


def intercom_notification() -> bytes:
    """Intercom's conversation.admin.closed, about our person (the email as Intercom spells it)."""
    body = json.loads(fixture_bytes("conversation_admin_closed"))
    body["data"]["item"]["user"].update(
        {"user_id": USER_ID, "email": EMAIL.replace("erase-me", "Erase-Me"), "name": f"Rasmus {LAST_NAME}"}
    )
    return json.dumps(body).encode()


def seed(client: Client, write_key: str, capture: CaptureOnCommit, destinations: list[Destination]) -> None:
    traits = {"email": EMAIL, "firstName": "Rasmus", "lastName": LAST_NAME, "account_id": "acme-7f3a"}
    send(
        client,
        write_key,
        {"type": "track", "anonymousId": ANONYMOUS_ID, "event": "Pricing Viewed"},
        {"type": "identify", "userId": FORMER_ID, "anonymousId": ANONYMOUS_ID, "traits": traits},
        {"type": "alias", "previousId": FORMER_ID, "userId": USER_ID},
        {"type": "identify", "userId": USER_ID, "traits": {**traits, "phone": "+32 9 7f3a"}},
        {"type": "group", "userId": USER_ID, "groupId": "acme-7f3a", "traits": {"name": "Acme"}},
        {
            "type": "track",
            "userId": USER_ID,
            "event": "Report Exported",
            "properties": {"account_id": "acme-7f3a", "feature_id": "reports"},
        },
        {"type": "identify", "userId": KEEP_ID, "traits": {"email": KEEP_EMAIL, "account_id": "acme-7f3a"}},
    )
    person = Person.objects.get(user_id=USER_ID)
    keeper = Person.objects.get(user_id=KEEP_ID)

    survey = survey_make(tags=["Support"])
    invitation = invitation_make(survey=survey, person=person)
    keep_invitation = invitation_make(survey=survey, person=keeper)
    assert sorted(invitations_dispatch_due().sent) == [invitation.pk, keep_invitation.pk]
    Invitation.objects.create(
        survey=survey,
        person=person,
        due_at=invitation.due_at,
        status=Invitation.Status.FAILED,
        error=f"SMTP 550 5.1.1 <{EMAIL}>: Recipient address rejected",
    )
    acting_on_answers(destinations)
    response = response_record(invitation=invitation, rating=3)
    response_followup_save(response=response, comment=COMMENT, tag_ratings={"Support": 2})
    case_worked(response)
    assert alerts_digest_send(timing=AlertRule.Timing.DAILY) == 1
    keep_response = response_record(invitation=keep_invitation, rating=9)
    response_followup_save(response=keep_response, comment=KEEP_COMMENT, tag_ratings={})
    assert comments_sweep() == 2  # their sentiment, language and flag (insights)
    person_unsubscribe(invitation=invitation)
    # A quote they agreed to before (unsubscribing withdraws a quote, which empties it: this one is
    # stored as it was while shown).
    Testimonial.objects.create(
        survey=survey,
        response=response,
        person=person,
        status=Testimonial.Status.APPROVED,
        original=COMMENT,
        quote=COMMENT,
        name_display=Testimonial.NameDisplay.FULL,
        display_name=f"Rasmus {LAST_NAME}",
        consent_text="Acme may quote my answer above publicly.",
    )
    deliveries_deliver_due()
    sync = sync_back_run(destination=destinations[-1], settle_seconds=0)
    assert (sync.status, sync.people) == ("done", 2), sync.summary()

    generic = collector_make(survey, name="Support form")
    answer = client.post(
        link(generic),
        json.dumps({"email": EMAIL, "name": f"Rasmus {LAST_NAME}", "plan": "pro"}),
        content_type="application/json",
    )
    assert answer.status_code == 200, answer.content
    chats = collector_make(survey, name="Intercom chats", secrets={"client_secret": INTERCOM_SECRET})
    assert intercom_post(client, chats, intercom_notification(), capture).status_code == 200

    # Everything above is really stored: the scan finds the person everywhere before the erasure.
    found = pii_hits(*PERSONAL)
    tables = (
        "InboundEvent",
        "Delivery",
        "Person",
        "Identity",
        "Response",
        "Invitation",
        "Testimonial",
        "CaseEntry",
    )
    for where in tables:
        assert any(where in hit for hit in found), f"nothing of the person in {where} before erasure"
    exchanges = Delivery.objects.exclude(last_exchange=None).values_list("destination__kind", flat=True)
    assert {"webhook", "hello_customer", "wootric", "customersuccessbox", "surveylab", "segment"} <= set(
        exchanges
    )
    alerts = Delivery.objects.filter(event_type__startswith="alert.", status=Delivery.Status.DELIVERED)
    assert sorted(alerts.values_list("destination__kind", "event_type")) == [
        (kind, event) for kind in sorted(ALERT_KINDS) for event in ("alert.digest", "alert.fired")
    ]


def test_a_delete_call_leaves_nothing_of_the_person_in_any_column_of_any_model(
    client: Client,
    write_key: str,
    destinations: list[Destination],
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    seed(client, write_key, django_capture_on_commit_callbacks, destinations)

    [delete] = send(client, write_key, {"type": "delete", "userId": USER_ID})
    deliveries_deliver_due()  # the delete itself goes to the webhook, so that it can erase them too

    assert delete.status == "processed"
    left = pii_hits(*PERSONAL)
    assert not left, "personal data left after erasure:\n" + "\n".join(left)
    assert len(scanned_columns()) > 80  # every app's tables were read, third-party ones included
    assert Delivery.objects.filter(event_type="delete", status=Delivery.Status.DELIVERED).exists()
    # What erasure keeps: hashes, a receipt, and everyone else.
    assert DeletionReceipt.objects.get().erased["people"] == 3  # the record and two collector contacts
    assert Suppression.objects.filter(reason=Suppression.Reason.DELETED).exists()
    assert Person.objects.filter(user_id=KEEP_ID, email=KEEP_EMAIL).exists()
    assert Response.objects.get(comment=KEEP_COMMENT).rating == 9
    # What was derived from the comment went with it; the other person's analysis stays.
    assert list(CommentAnalysis.objects.values_list("response__comment", flat=True)) == [KEEP_COMMENT]
    assert not Testimonial.objects.exists()
    batch = Delivery.objects.get(event_type="sync_back.batch")
    assert [e["userId"] for e in batch.payload["batch"]] == [KEEP_ID]
    assert pii_hits(KEEP_ID, KEEP_EMAIL, KEEP_COMMENT) != []
