"""Collectors: any tool that can call a webhook asks the hub to survey someone (SurveyLab's API link).

Generic JSON and form calls, the collector's switch, tokens, contacts without email, the survey's rules
(suppression, interval, global cap), the collector's own delay and protection, SMS, and end to end:
an Intercom webhook becomes an email on a real SMTP server.
"""

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from customers.models import Person, Suppression, suppression_hash
from integrations.models import InboundEvent
from surveys.models import Collector, Invitation, Survey, SurveyPolicy
from surveys.services.collectors import collector_events_sweep
from surveys.services.dispatch import invitations_dispatch_due
from tests.integrations.intercom.support import (
    SECRET,
    CaptureOnCommit,
    collector_make,
    fixture_bytes,
    intercom_post,
    link,
)
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import invitation_make, person_make, survey_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def survey() -> Survey:
    return survey_make()


@pytest.fixture
def collector(survey: Survey) -> Collector:
    return collector_make(survey, name="Support chats")


def add(client: Client, collector: Collector, body: dict[str, Any], **kwargs: Any) -> Any:
    return client.post(link(collector), json.dumps(body), content_type="application/json", **kwargs)


def outcomes(collector: Collector) -> list[tuple[str, str]]:
    assert collector.source is not None
    return list(collector.source.events.order_by("pk").values_list("status", "reason"))


# --- adding a contact ----------------------------------------------------------------------------------


def test_a_json_call_invites_the_contact_after_the_collectors_delay(client: Client, survey: Survey) -> None:
    collector = collector_make(survey, delay_minutes=30)
    before = timezone.now()
    response = add(
        client,
        collector,
        {"email": "Ann@Example.com", "name": "Ann Peeters", "language": "nl", "plan": "pro"},
    )
    after = timezone.now()

    assert response.status_code == 200
    data = response.json()
    assert (data["success"], data["status"], data["collector"]) == (True, "invited", collector.pk)
    invitation = Invitation.objects.select_related("person").get(pk=data["invitation"]["id"])
    assert before + timedelta(minutes=30) <= invitation.due_at <= after + timedelta(minutes=30)
    person = invitation.person
    assert person is not None
    assert (person.email, person.name, person.language) == ("ann@example.com", "Ann Peeters", "nl")
    assert person.traits["plan"] == "pro"  # extra fields are kept as traits
    assert person.source == collector.source
    assert outcomes(collector) == [("processed", data["message"])]


def test_a_form_call_invites_too(client: Client, collector: Collector) -> None:
    response = client.post(link(collector), {"email": "bo@example.com", "user_id": "cust-7", "team": "Gent"})
    assert response.status_code == 200
    assert response.json()["status"] == "invited"
    person = Person.objects.get()
    assert (person.user_id, person.email, person.traits["team"]) == ("cust-7", "bo@example.com", "Gent")


def test_the_collector_link_by_id_works_like_api_php(client: Client, collector: Collector) -> None:
    path = f"/collect/{collector.pk}/?apiToken={collector.token}&source=zapier&action=addContactToCollector"
    response = client.post(path, json.dumps({"email": "cy@example.com"}), content_type="application/json")
    assert response.json()["status"] == "invited"


def test_a_contact_known_by_email_is_found_not_duplicated(client: Client, collector: Collector) -> None:
    add(client, collector, {"email": "dee@example.com", "user_id": "cust-9"})
    Invitation.objects.update(status=Invitation.Status.CANCELLED)
    add(client, collector, {"email": "dee@example.com"})
    assert Person.objects.count() == 1


def test_a_body_without_email_is_400_with_the_reason_and_logged_rejected(
    client: Client, collector: Collector
) -> None:
    response = add(client, collector, {"name": "No Mail"})
    assert response.status_code == 400
    assert response.json() == {
        "code": "no_contact",
        "message": "no contact: the body needs an email (optionally name, language, user_id)",
    }
    assert outcomes(collector) == [("rejected", response.json()["message"])]
    assert not Person.objects.exists()


def test_an_invalid_email_is_400(client: Client, collector: Collector) -> None:
    response = add(client, collector, {"email": "not-an-address"})
    assert response.status_code == 400
    assert "email not valid" in response.json()["message"]


def test_a_body_that_is_not_json_is_400_and_not_logged(client: Client, collector: Collector) -> None:
    response = client.post(link(collector), b"{oops", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_json"
    assert not InboundEvent.objects.exists()


def test_an_unknown_action_is_400(client: Client, collector: Collector) -> None:
    response = client.post(link(collector).replace("addContactToCollector", "deleteEverything"))
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_action"


# --- tokens -------------------------------------------------------------------------------------------


def test_a_wrong_token_is_403_and_no_token_is_401(client: Client, collector: Collector) -> None:
    wrong = link(collector).replace(collector.generic_token, "x" * len(collector.generic_token))
    response = client.post(wrong, json.dumps({"email": "e@example.com"}), content_type="application/json")
    assert response.status_code == 403
    assert response.json()["code"] == "invalid_token"

    missing = f"/api.php?cId={collector.pk}&source=api&action=addContactToCollector"
    assert client.post(missing).status_code == 401
    unknown = f"/api.php?apiToken={collector.token}&cId={collector.pk + 1}&action=addContactToCollector"
    assert client.post(unknown).status_code == 403
    assert not InboundEvent.objects.exists()


@pytest.mark.parametrize("cid", ["²", "\u0661", "%00", "99999999999999999999", "-1"])
def test_a_collector_id_that_is_not_ascii_digits_is_403_not_500(
    client: Client, collector: Collector, cid: str
) -> None:
    response = client.post(f"/api.php?apiToken={collector.token}&cId={cid}&action=addContactToCollector")

    assert response.status_code == 403
    assert response.json()["code"] == "invalid_token"


def test_a_body_nested_too_deep_is_400_and_not_logged(client: Client, collector: Collector) -> None:
    for levels in (254, 1000):
        body = '{"email": "ann@example.com", "extra": ' + "[" * levels + "]" * levels + "}"
        response = client.post(link(collector), body, content_type="application/json")
        assert response.status_code == 400
        assert "levels deep" in response.json()["message"]
    assert not InboundEvent.objects.exists()


def test_control_characters_in_the_call_are_stored_cleaned(client: Client, collector: Collector) -> None:
    response = add(
        client,
        collector,
        {"email": "ann@example.com", "user_id": "u\x00\n1", "note": "a\x00b"},
        HTTP_IDEMPOTENCY_KEY="call\t1",
    )

    assert response.status_code == 200, response.content
    event = InboundEvent.objects.get()
    assert (event.message_id, event.user_id) == ("call 1", "u\ufffd 1")
    assert (event.payload["messageId"], event.payload["userId"]) == ("call 1", "u\ufffd 1")
    assert event.payload["properties"]["body"]["note"] == "a\ufffdb"


def test_the_token_is_stored_encrypted_and_looked_up_by_hash(collector: Collector) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT token, token_hash, generic_token, generic_token_hash FROM surveys_collector"
            " WHERE id = %s",
            [collector.pk],
        )
        stored, token_hash, generic_stored, generic_hash = cursor.fetchone()
    assert collector.token not in stored
    assert collector.generic_token not in generic_stored
    assert len(token_hash) == len(generic_hash) == 64


# --- switching --------------------------------------------------------------------------------------------


def test_turned_off_collector_answers_clearly_and_sends_nothing(client: Client, collector: Collector) -> None:
    off = client.get(link(collector, "turn_off_link"))
    assert off.status_code == 200
    assert (off.json()["status"], off.json()["enabled"]) == ("turned_off", False)

    response = add(client, collector, {"email": "fay@example.com"})
    assert response.status_code == 200
    assert response.json()["status"] == "collector_off"
    assert "nothing sent" in response.json()["message"]
    assert not Invitation.objects.exists()

    on = client.get(link(collector, "turn_on_link"))
    assert on.json()["status"] == "turned_on"
    assert add(client, collector, {"email": "fay@example.com"}).json()["status"] == "invited"
    assert [status for status, _ in outcomes(collector)] == ["processed"] * 4


# --- the survey's rules, reused -------------------------------------------------------------------------


def test_a_suppressed_contact_is_answered_suppressed(client: Client, collector: Collector) -> None:
    assert collector.source is not None
    Suppression.objects.create(
        source=collector.source,
        kind="email",
        value_hash=suppression_hash("email", "gil@example.com"),
        reason=Suppression.Reason.UNSUBSCRIBED,
        created_at=timezone.now() - timedelta(days=3),
    )
    response = add(client, collector, {"email": "gil@example.com"})
    assert response.json()["status"] == "suppressed"
    when = f"{timezone.now() - timedelta(days=3):%Y-%m-%d}"
    assert response.json()["message"] == f"not invited: suppressed: unsubscribed on {when}"
    assert not Invitation.objects.exists()


def test_an_erased_contact_is_not_recreated_and_answered_suppressed(
    client: Client, collector: Collector
) -> None:
    assert collector.source is not None
    Suppression.objects.create(
        source=collector.source,
        kind="email",
        value_hash=suppression_hash("email", "hal@example.com"),
        reason=Suppression.Reason.DELETED,
    )
    response = add(client, collector, {"email": "hal@example.com"})
    assert response.json()["status"] == "suppressed"
    assert not Person.objects.exists()


def test_a_contact_surveyed_within_the_interval_is_already_surveyed(
    client: Client, survey: Survey, collector: Collector
) -> None:
    assert collector.source is not None
    person = person_make(source=collector.source, user_id="ivy@example.com", email="ivy@example.com")
    invitation_make(
        survey=survey,
        person=person,
        due_at=timezone.now() - timedelta(days=30),
        status=Invitation.Status.SENT,
    )
    response = add(client, collector, {"email": "ivy@example.com"})
    assert response.json()["status"] == "already_surveyed"
    assert "interval 26 weeks" in response.json()["message"]
    assert Invitation.objects.count() == 1


def test_a_second_call_while_an_invitation_waits_is_already_surveyed(
    client: Client, collector: Collector
) -> None:
    add(client, collector, {"email": "jo@example.com"})
    response = add(client, collector, {"email": "jo@example.com"})
    assert response.json()["status"] == "already_surveyed"
    assert Invitation.objects.count() == 1


def test_the_global_cap_applies(client: Client, collector: Collector) -> None:
    assert collector.source is not None
    SurveyPolicy.objects.create(pk=1, global_cap_days=30)
    person = person_make(source=collector.source, user_id="kai@example.com", email="kai@example.com")
    other = survey_make(name="Other", slug="other")
    invitation_make(
        survey=other, person=person, due_at=timezone.now() - timedelta(days=3), status=Invitation.Status.SENT
    )
    response = add(client, collector, {"email": "kai@example.com"})
    assert response.json()["status"] == "already_surveyed"
    assert "global cap" in response.json()["message"]


def test_the_collectors_own_protection_applies_when_the_survey_would_allow(
    client: Client, survey: Survey
) -> None:
    Survey.objects.filter(pk=survey.pk).update(resurvey_interval_days=0)
    collector = collector_make(survey, resurvey_days=14)
    add(client, collector, {"email": "lou@example.com"})
    Invitation.objects.update(status=Invitation.Status.SENT, sent_at=timezone.now())

    response = add(client, collector, {"email": "lou@example.com"})
    assert response.json()["status"] == "already_surveyed"
    assert "protection 14 days" in response.json()["message"]


def test_a_survey_with_automation_off_sends_nothing(
    client: Client, survey: Survey, collector: Collector
) -> None:
    Survey.objects.filter(pk=survey.pk).update(automation_enabled=False)
    response = add(client, collector, {"email": "max@example.com"})
    assert response.json()["status"] == "not_eligible"
    assert response.json()["message"] == "not invited: automation is off for this survey"


def test_the_send_window_defers_the_invitation(client: Client, survey: Survey) -> None:
    now = timezone.now()
    closed_today = [(now.weekday() + 1) % 7]
    Survey.objects.filter(pk=survey.pk).update(send_window_enabled=True, send_window_days=closed_today)
    collector = collector_make(survey)
    invitation = Invitation.objects.get(
        pk=add(client, collector, {"email": "ned@example.com"}).json()["invitation"]["id"]
    )
    assert invitation.due_at > now + timedelta(hours=1)


def test_an_sms_collector_says_sms_is_not_configured_and_sends_nothing(
    client: Client, survey: Survey
) -> None:
    collector = collector_make(survey, channel=Collector.Channel.SMS)
    response = add(client, collector, {"email": "oz@example.com"})
    assert response.status_code == 200
    assert response.json()["status"] == "not_configured"
    assert response.json()["message"].startswith("SMS is not configured")
    assert not Invitation.objects.exists()


# --- the waiting step -----------------------------------------------------------------------------------


def test_an_intercom_call_whose_task_was_lost_is_decided_by_the_sweeper(
    client: Client,
    admin_client: Client,
    collector: Collector,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: CaptureOnCommit,
) -> None:
    from surveys import tasks

    def broker_down(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("broker down")

    monkeypatch.setattr(tasks.collector_process_event, "delay", broker_down)
    intercom_post(
        client,
        collector,
        fixture_bytes("conversation_admin_closed"),
        django_capture_on_commit_callbacks,
        secret=None,
    )
    assert not Invitation.objects.exists()
    assert outcomes(collector)[0][0] == InboundEvent.Status.PENDING
    [waiting] = InboundEvent.objects.filter(source=collector.source)
    listed = admin_client.get("/admin/integrations/inboundevent/", {"status__exact": "pending"})
    assert f"/admin/integrations/inboundevent/{waiting.pk}/change/" in listed.content.decode()

    InboundEvent.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    assert collector_events_sweep() == 1
    assert Invitation.objects.count() == 1
    assert outcomes(collector)[0][0] == InboundEvent.Status.PROCESSED
    assert outcomes(collector)[0][1].startswith("invited:")
    assert collector_events_sweep() == 0
    listed = admin_client.get("/admin/integrations/inboundevent/", {"status__exact": "pending"})
    assert f"/admin/integrations/inboundevent/{waiting.pk}/change/" not in listed.content.decode()


# --- end to end -----------------------------------------------------------------------------------------


def test_intercom_webhook_to_invitation_to_email_on_a_real_smtp_server(
    client: Client, survey: Survey, smtp: SmtpRecorder, django_capture_on_commit_callbacks: CaptureOnCommit
) -> None:
    collector = collector_make(survey, secrets={"client_secret": SECRET})
    response = intercom_post(
        client, collector, fixture_bytes("conversation_admin_closed"), django_capture_on_commit_callbacks
    )
    assert response.status_code == 200

    report = invitations_dispatch_due()

    invitation = Invitation.objects.get()
    assert report.sent == [invitation.pk]
    [message] = smtp.messages
    assert message["To"] == "Ann Peeters <ann.peeters@example.com>"
    assert message["Message-ID"] == f"<invitation-{invitation.pk}.onboarding@feedback.acme.example>"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "https://feedback.acme.example/s/" in text
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT
