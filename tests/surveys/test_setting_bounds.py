"""Every numeric setting of surveys and collectors is bounded to what the hub can compute with, and one
survey's failure never stops another survey's expiry or dispatch.

A token expiry of a million days (the API took up to 2^31-1) once made every dispatch run raise
OverflowError: one bad value on any survey stopped the email of every survey.
"""

import json
import logging
from datetime import UTC, datetime, timedelta
from importlib import import_module

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from integrations.models import InboundEvent, Source
from integrations.services import inbound_events_process
from surveys.models import Collector, Invitation, Survey, SurveyPolicy
from surveys.services.dispatch import invitations_dispatch_due
from tests.integrations.intercom.support import collector_make
from tests.surveys.conftest import SmtpRecorder
from tests.surveys.factories import invitation_make, person_make, survey_make
from tests.surveys.test_admin import survey_form

pytestmark = pytest.mark.django_db

BOUNDS_MIGRATION = import_module("surveys.migrations.0006_numeric_setting_bounds")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("min_delay_days", 3651),
        ("max_delay_days", 3651),
        ("resurvey_interval_days", 3651),
        ("token_expiry_days", 1_000_000),
        ("token_expiry_days", 0),
        ("token_expiry_days", 2**31 - 1),
    ],
)
def test_the_api_refuses_a_survey_setting_out_of_bounds(
    api_client: APIClient, source: Source, field: str, value: int
) -> None:
    response = api_client.post("/api/surveys/", {"name": "Checkout NPS", field: value}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not Survey.objects.exists()


def test_the_api_refuses_a_tag_scale_out_of_bounds(api_client: APIClient, source: Source) -> None:
    response = api_client.post(
        "/api/surveys/", {"name": "Checkout NPS", "template": {"tag_scale": 1000}}, format="json"
    )

    assert response.status_code == 400, response.content
    assert "tag_scale" in response.json()["errors"]["template"]


@pytest.mark.parametrize(("field", "value"), [("delay_minutes", 525_601), ("resurvey_days", 3651)])
def test_the_api_refuses_a_collector_setting_out_of_bounds(
    api_client: APIClient, source: Source, field: str, value: int
) -> None:
    survey = survey_make()

    response = api_client.post(
        "/api/collectors/", {"survey": survey.slug, "name": "Chats", field: value}, format="json"
    )

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_the_bounds_are_the_models_own_so_the_admin_refuses_too(admin_client: Client, source: Source) -> None:
    response = admin_client.post(
        "/admin/surveys/survey/add/", survey_form(source, token_expiry_days="1000000")
    )

    assert response.status_code == 200  # the form again, with the error
    assert "Ensure this value is less than or equal to 3650." in response.content.decode()
    assert not Survey.objects.exists()
    policy = SurveyPolicy(global_cap_days=1_000_000)
    with pytest.raises(Exception, match="global_cap_days"):
        policy.full_clean()


def test_a_survey_saved_before_the_bounds_never_stops_the_others(
    smtp: SmtpRecorder, caplog: pytest.LogCaptureFixture
) -> None:
    """Values the validators refuse today, written as an older release (or a script) could have."""
    broken = survey_make(name="Broken", slug="broken")
    healthy = survey_make(name="Healthy", slug="healthy")
    Survey.objects.filter(pk=broken.pk).update(token_expiry_days=1_000_000, resurvey_interval_days=2**31 - 1)
    long_ago = timezone.now() - timedelta(days=400)
    broken_person = person_make()
    invitation_make(survey=broken, person=broken_person, due_at=long_ago, status="sent", sent_at=long_ago)
    stale = invitation_make(survey=healthy, person=person_make(), status="sent", sent_at=long_ago)
    broken_due = invitation_make(survey=broken, person=broken_person)
    healthy_due = invitation_make(survey=healthy, person=person_make())

    with caplog.at_level(logging.ERROR):
        report = invitations_dispatch_due()

    assert list(report.sent) == [healthy_due.pk]
    assert len(smtp.messages) == 1
    stale.refresh_from_db()
    assert stale.status == Invitation.Status.EXPIRED
    broken_due.refresh_from_db()
    assert broken_due.status == Invitation.Status.SCHEDULED  # tried again, given up after a few runs
    assert "OverflowError" in broken_due.error
    assert f"survey {broken.pk}" in caplog.text


def test_the_migration_brings_old_values_within_the_bounds(source: Source) -> None:
    survey = survey_make()
    collector = collector_make(survey)
    Survey.objects.filter(pk=survey.pk).update(token_expiry_days=1_000_000, min_delay_days=2**31 - 1)
    Collector.objects.filter(pk=collector.pk).update(delay_minutes=10**9)
    SurveyPolicy.objects.create(pk=1, global_cap_days=10**6)
    Survey.objects.filter(pk=survey_make(name="Zero", slug="zero").pk).update(token_expiry_days=0)

    historical = MigrationExecutor(connection).loader.project_state(
        ("surveys", "0006_numeric_setting_bounds")
    )
    BOUNDS_MIGRATION.settings_clamp(historical.apps, None)

    survey.refresh_from_db()
    collector.refresh_from_db()
    assert (survey.token_expiry_days, survey.min_delay_days) == (3650, 3650)
    assert collector.delay_minutes == 525_600
    assert SurveyPolicy.current().global_cap_days == 3650
    assert Survey.objects.get(slug="zero").token_expiry_days == 1
    for model in (Survey, Collector, SurveyPolicy):
        for row in model.objects.all():
            row.clean_fields(exclude=["token_hash", "token", "source", "survey"])


def test_a_created_at_in_the_year_9999_is_explained_not_an_overflow(
    api_client: APIClient, client: Client, source: Source, write_key: str
) -> None:
    survey = survey_make(min_delay_days=30, max_delay_days=60)
    survey.triggers.create(source=source, call_type="identify")
    body = {
        "writeKey": write_key,
        "batch": [
            {
                "type": "identify",
                "userId": "u-far",
                "traits": {"email": "far@example.com", "createdAt": "9999-12-30T00:00:00Z"},
            },
            {"type": "identify", "userId": "u-near", "traits": {"email": "near@example.com"}},
        ],
    }

    response = client.post("/v1/batch", json.dumps(body), content_type="application/json")
    inbound_events_process(ids=InboundEvent.objects.values_list("pk", flat=True))

    assert response.status_code == 200
    invited = set(Invitation.objects.values_list("person__user_id", flat=True))
    assert invited == {"u-far", "u-near"}
    far = Invitation.objects.get(person__user_id="u-far")
    assert far.due_at == datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
    explained = api_client.get(f"/api/people/{far.person_id}/eligibility/", {"survey": survey.slug})
    assert explained.status_code == 200, explained.content
