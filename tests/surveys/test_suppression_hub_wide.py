"""Suppression is hub-wide per address: unsubscribing, a refused recipient or an ESP's bounce stops
every survey of every source and collector for that email address; a temporary refusal retries."""

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client

from customers.models import Person, Suppression
from integrations.models import Source
from integrations.services import source_create
from surveys.models import Invitation, Survey, Trigger
from surveys.services.dispatch import invitations_dispatch_due
from surveys.services.eligibility import eligibility_explain
from tests.customers.test_people import send
from tests.integrations.intercom.support import collector_make, link
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import invitation_make, person_make, survey_make
from tests.surveys.factories_pages import page_invitation, page_path, page_person

pytestmark = pytest.mark.django_db

NOV_2 = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def identify_survey(source: Source, slug: str) -> Survey:
    survey = survey_make(name=f"NPS {slug}", slug=slug)
    Trigger.objects.create(survey=survey, source=source, call_type="identify")
    return survey


def identify(client: Client, source: Source, write_key: str, user_id: str, email: str) -> Person:
    send(client, write_key, {"type": "identify", "userId": user_id, "traits": {"email": email}})
    return Person.objects.get(source=source, user_id=user_id)


def collector_call(client: Client, survey: Survey, email: str) -> dict[str, Any]:
    collector = collector_make(survey, name=f"Support chats {survey.slug}")
    response = client.post(link(collector), json.dumps({"email": email}), content_type="application/json")
    return dict(response.json())


def test_unsubscribing_in_one_source_stops_every_survey_of_every_source_and_collector(client: Client) -> None:
    shop = page_person(email="ann@example.com")  # source "shop"
    app, app_key = source_create(name="App", slug="app")
    app_survey = identify_survey(app, "app-nps")
    ann_in_app = identify(client, app, app_key, "app-user-1", "Ann@Example.com")
    [waiting] = Invitation.objects.filter(person=ann_in_app, status=Invitation.Status.SCHEDULED)

    with time_machine.travel(NOV_2, tick=False):
        assert client.post(f"{page_path(page_invitation(person=shop))}unsubscribe/").status_code == 200

    # The invitation already waiting in the other source is cancelled ...
    waiting.refresh_from_db()
    assert (waiting.status, waiting.error) == (Invitation.Status.CANCELLED, "unsubscribed")
    # ... a new call in that source surveys nobody, and the explainer says why and since when ...
    identify(client, app, app_key, "app-user-2", "ann@example.com")
    assert not Invitation.objects.filter(person__user_id="app-user-2").exists()
    newcomer = Person.objects.get(user_id="app-user-2")
    decision = eligibility_explain(survey=app_survey, person=newcomer, now=NOV_2)
    assert decision.reasons == ["suppressed: unsubscribed on 2026-11-02"]
    # ... and a collector (its own source) does not invite the address either.
    outcome = collector_call(client, survey_make(name="Support", slug="support"), "ANN@example.com")
    assert outcome["status"] == "suppressed"
    assert outcome["message"] == "not invited: suppressed: unsubscribed on 2026-11-02"
    # Somebody else is still surveyed.
    identify(client, app, app_key, "app-user-3", "bob@example.com")
    assert Invitation.objects.filter(person__user_id="app-user-3").exists()


def test_a_refused_recipient_is_suppressed_as_bounced_and_the_rest_of_the_batch_is_sent(
    smtp: SmtpRecorder, client: Client
) -> None:
    smtp.refuse.add("nobody@example.com")
    with time_machine.travel(NOV_2, tick=False):
        survey = survey_make()
        first = invitation_make(survey=survey, person=person_make(email="first@example.com"))
        refused = invitation_make(survey=survey, person=person_make(email="nobody@example.com"))
        third = invitation_make(survey=survey, person=person_make(email="third@example.com"))

        report = invitations_dispatch_due()

    assert sorted(str(m["To"]) for m in smtp.messages) == ["first@example.com", "third@example.com"]
    assert sorted(report.sent) == [first.pk, third.pk]
    refused.refresh_from_db()
    assert refused.status == Invitation.Status.FAILED
    assert refused.error == "recipient refused (550 5.1.1 No such user here): suppressed as bounced"
    assert report.failed == {refused.pk: refused.error}
    [bounce] = Suppression.objects.all()
    assert (bounce.source, bounce.kind, bounce.reason) == (None, "email", "bounced")
    # The address is suppressed for every source: the same mailbox elsewhere is not surveyed.
    other_source, other_key = source_create(name="App", slug="app")
    app_survey = identify_survey(other_source, "app-nps")
    elsewhere = identify(client, other_source, other_key, "app-user", "Nobody@Example.com")
    assert not Invitation.objects.filter(person=elsewhere).exists()
    reasons = eligibility_explain(survey=app_survey, person=elsewhere, now=NOV_2).reasons
    assert reasons == ["suppressed: email bounced on 2026-11-02"]


def test_a_temporary_refusal_retries_that_invitation_and_sends_the_others(smtp: SmtpRecorder) -> None:
    survey = survey_make()
    first = invitation_make(survey=survey, person=person_make(email="first@example.com"))
    busy = invitation_make(survey=survey, person=person_make(email="busy@example.com"))
    third = invitation_make(survey=survey, person=person_make(email="third@example.com"))
    smtp.defer.add("busy@example.com")

    report = invitations_dispatch_due()

    assert sorted(report.sent) == [first.pk, third.pk]
    busy.refresh_from_db()
    assert busy.status == Invitation.Status.SCHEDULED
    assert busy.claimed_at is None
    assert busy.error == "recipient temporarily refused (450 4.2.1 Mailbox busy, try again later)"
    assert not Suppression.objects.exists()

    smtp.defer.clear()
    assert list(invitations_dispatch_due().sent) == [busy.pk]
    assert sorted(str(m["To"]) for m in smtp.messages) == [
        "busy@example.com",
        "first@example.com",
        "third@example.com",
    ]
