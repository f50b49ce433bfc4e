"""Subscribing in the admin: a staff member who may see answers manages their own report emails; the
report subscription permissions let one manage everyone's."""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client

from insights.models import ReportSending, ReportSubscription
from tests.conftest import permissions_named
from tests.insights.factories import report_sending_make
from tests.surveys.factories import survey_make

pytestmark = pytest.mark.django_db

ADD = "/admin/insights/reportsubscription/add/"
LIST = "/admin/insights/reportsubscription/"


def staff(django_user_model: Any, name: str, *permissions: str, email: str = "") -> Any:
    user = django_user_model.objects.create_user(
        username=name, email=email or f"{name}@acme.example", password="pw-staff-123", is_staff=True
    )
    user.user_permissions.add(*permissions_named(*permissions))
    return django_user_model.objects.get(pk=user.pk)


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def monthly_in_berlin(subscribe: Callable[..., ReportSubscription]) -> ReportSubscription:
    """A staff member's hub-wide monthly report in Berlin's time, subscribed on 1 September 2026."""
    september = datetime(2026, 9, 1, tzinfo=UTC)
    return subscribe(survey=None, frequency="monthly", time_zone="Europe/Berlin", created_at=september)


def form(**fields: Any) -> dict[str, Any]:
    return {"survey": "", "frequency": "weekly", "time_zone": "Europe/Berlin", "active": "on", **fields}


def test_a_staff_member_who_may_see_answers_subscribes_themselves_and_only_themselves(
    django_user_model: Any,
) -> None:
    ana = staff(django_user_model, "ana", "surveys.view_survey", "surveys.view_response")
    bob = staff(django_user_model, "bob", "surveys.view_survey", "surveys.view_response")
    survey = survey_make()
    client = client_of(ana)

    assert "Report subscriptions" in client.get("/admin/").content.decode()
    response = client.post(ADD, form(user=bob.pk, survey=survey.pk))  # naming someone else changes nothing

    assert response.status_code == 302
    subscription = ReportSubscription.objects.get()
    assert (subscription.user, subscription.survey, subscription.time_zone) == (ana, survey, "Europe/Berlin")


def test_one_sees_and_edits_only_ones_own_subscriptions_without_the_model_permissions(
    django_user_model: Any,
) -> None:
    ana = staff(django_user_model, "ana", "surveys.view_survey", "surveys.view_response")
    bob = staff(django_user_model, "bob", "surveys.view_survey", "surveys.view_response")
    theirs = ReportSubscription.objects.create(user=bob, survey=None, time_zone="UTC")
    mine = ReportSubscription.objects.create(user=ana, survey=None, time_zone="UTC")
    client = client_of(ana)

    listing = client.get(LIST).content.decode()
    other = client.post(f"{LIST}{theirs.pk}/change/", form(time_zone="Asia/Tokyo"))
    deleted = client.post(f"{LIST}{theirs.pk}/delete/", {"post": "yes"})
    own = client.post(f"{LIST}{mine.pk}/change/", form(time_zone="Asia/Tokyo"))

    assert f"{LIST}{mine.pk}/change/" in listing
    assert f"{LIST}{theirs.pk}/change/" not in listing
    assert other.status_code == deleted.status_code == 302  # "does not exist": back to the index
    assert ReportSubscription.objects.get(pk=theirs.pk).time_zone == "UTC"
    assert own.status_code == 302
    assert ReportSubscription.objects.get(pk=mine.pk).time_zone == "Asia/Tokyo"


def test_staff_with_the_permissions_manage_other_peoples_subscriptions(django_user_model: Any) -> None:
    lead = staff(
        django_user_model,
        "lead",
        "insights.add_reportsubscription",
        "insights.change_reportsubscription",
        "insights.view_reportsubscription",
    )
    bob = staff(django_user_model, "bob", "surveys.view_survey", "surveys.view_response")
    client = client_of(lead)

    response = client.post(ADD, form(user=bob.pk, frequency="monthly"))

    assert response.status_code == 302
    assert ReportSubscription.objects.get().user == bob
    assert "bob" in client.get(LIST).content.decode()


def test_staff_who_may_not_see_the_reports_cannot_subscribe(django_user_model: Any) -> None:
    nobody = staff(django_user_model, "nobody")
    answers_only = staff(django_user_model, "answers-only", "surveys.view_response")  # not the surveys

    assert client_of(nobody).get(ADD).status_code == 403
    assert client_of(answers_only).get(ADD).status_code == 403
    assert not ReportSubscription.objects.exists()


@pytest.mark.parametrize(
    ("fields", "email", "error"),
    [
        ({}, "none", "cannot receive reports: no email address."),
        (
            {"time_zone": "Mars/Base"},
            "",
            "Select a valid choice. Mars/Base is not one of the available choices.",
        ),
        ({"frequency": "daily"}, "", "Select a valid choice. daily is not one of the available choices."),
    ],
)
def test_a_subscription_that_could_not_be_sent_is_refused_with_the_reason(
    django_user_model: Any, fields: dict[str, str], email: str, error: str
) -> None:
    ana = staff(django_user_model, "ana", "surveys.view_survey", "surveys.view_response")
    if email == "none":
        django_user_model.objects.filter(pk=ana.pk).update(email="")

    response = client_of(ana).post(ADD, form(**fields))

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ReportSubscription.objects.exists()


def test_the_same_report_twice_is_refused(django_user_model: Any) -> None:
    ana = staff(django_user_model, "ana", "surveys.view_survey", "surveys.view_response")
    survey = survey_make()
    client = client_of(ana)
    client.post(ADD, form(survey=survey.pk))
    client.post(ADD, form())  # hub-wide, another report

    again = client.post(ADD, form(survey=survey.pk))
    hub_wide_again = client.post(ADD, form())

    assert "This user already has this report for this survey." in again.content.decode()
    assert "This user already has this hub-wide report." in hub_wide_again.content.decode()
    assert ReportSubscription.objects.count() == 2


def test_the_subscription_page_shows_the_next_report_and_the_ledger(
    subscribe: Callable[..., ReportSubscription],
) -> None:
    subscription = monthly_in_berlin(subscribe)
    report_sending_make(
        subscription,
        "2026-10",
        status="sent",
        sent_at=datetime(2026, 11, 1, 6, 5, tzinfo=UTC),
    )

    client = client_of(subscription.user)

    with time_machine.travel(datetime(2026, 11, 15, tzinfo=UTC), tick=False):
        mid_november = client.get(f"{LIST}{subscription.pk}/change/").content.decode()
    with time_machine.travel(datetime(2026, 12, 1, 9, tzinfo=UTC), tick=False):
        after_november = client.get(f"{LIST}{subscription.pk}/change/").content.decode()

    assert "2026-10: sent 2026-11-01 06:05:00" in mid_november
    assert "2026-11, from 2026-12-01 07:00 Europe/Berlin" in mid_november
    assert "2026-11: due, at the next run of the beat task" in after_november


def test_a_period_given_up_after_its_attempts_is_not_shown_as_due(
    subscribe: Callable[..., ReportSubscription],
) -> None:
    subscription = monthly_in_berlin(subscribe)
    report_sending_make(
        subscription,
        "2026-11",
        status="failed",
        attempts=ReportSending.MAX_ATTEMPTS,
        error="SMTPRecipientsRefused: 550 5.1.1 No such user here",
    )

    with time_machine.travel(datetime(2026, 12, 1, 9, tzinfo=UTC), tick=False):
        page = client_of(subscription.user).get(f"{LIST}{subscription.pk}/change/").content.decode()

    assert "2026-11: due" not in page  # no run will send it
    assert "2026-12, from 2027-01-01 07:00 Europe/Berlin" in page
    assert "2026-11: failed SMTPRecipientsRefused" in page


def test_the_ledger_lists_a_long_error_cut_with_the_whole_on_hover(django_user_model: Any) -> None:
    admin_user = django_user_model.objects.create_superuser(username="root", password="pw-staff-123")
    subscription = ReportSubscription.objects.create(user=admin_user, survey=None, time_zone="UTC")
    refused = "SMTPRecipientsRefused: 550 5.1.1 " + "the mailbox does not exist, " * 8
    report_sending_make(subscription, "2026-W48", status="failed", error=refused)

    page = client_of(admin_user).get("/admin/insights/reportsending/").content.decode()

    assert f'<span title="{refused}">{refused[:120]}…</span>' in page
