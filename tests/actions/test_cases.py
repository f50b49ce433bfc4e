"""Cases: a detractor answer opens one; staff work it in the admin (owner, status, notes, a reply to
the customer through EMAIL_URL, closing with "did we solve it?"), and the customer's one-click answer
on the follow-up page (POST only) is recorded on it."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from actions.models import Case, CaseEntry
from actions.services.cases import case_followup_link
from tests.actions.conftest import answer, change, customer, person_of
from tests.surveys.conftest import SmtpRecorder

pytestmark = pytest.mark.django_db


def test_a_detractor_answer_opens_one_case(survey: Any, settings: Any) -> None:
    settings.CASES_DUE_HOURS = 24
    response = answer(customer(), 3)
    change(response, 2)
    answer(customer(), 9)
    passive = answer(customer(), 8)
    change(passive, 5)  # changed to detractor: a case too

    cases = list(Case.objects.order_by("pk"))
    assert [c.response_id for c in cases] == [response.pk, passive.pk]
    case = cases[0]
    assert (case.status, case.person_id) == (Case.Status.OPEN, response.person_id)
    assert timedelta(hours=23) < case.due_at - case.opened_at <= timedelta(hours=24)
    assert [e.kind for e in case.entries.all()] == [CaseEntry.Kind.OPENED]


def change_page(client: Client, case: Case, **fields: Any) -> Any:
    data = {
        "owner": "",
        "status": case.status,
        "due_at_0": timezone.localtime(case.due_at).strftime("%Y-%m-%d"),
        "due_at_1": timezone.localtime(case.due_at).strftime("%H:%M:%S"),
        "note": "",
        "reply": "",
        "entries-TOTAL_FORMS": "0",
        "entries-INITIAL_FORMS": str(case.entries.count()),
        **fields,
    }
    return client.post(f"/admin/actions/case/{case.pk}/change/", data, follow=True)


def test_staff_reply_is_emailed_and_logged_then_closing_asks_did_we_solve_it(
    admin_client: Client, client: Client, survey: Any, smtp: SmtpRecorder
) -> None:
    response = answer(customer(), 3, "too slow")
    case = Case.objects.get()

    page = change_page(
        admin_client, case, status="in_progress", note="Called their admin.", reply="Sorry! Fixed now."
    )

    assert "Done: note added, reply sent to the customer." in page.content.decode()
    [reply] = smtp.messages
    assert reply["To"] == f"Ann Smith <{person_of(response).email}>"
    assert reply["Subject"] == "Re: How likely are you to recommend Acme?"
    assert reply.get_content().strip() == "Sorry! Fixed now."
    assert reply["References"] == f"<invitation-{response.invitation_id}.onboarding@feedback.acme.example>"
    case.refresh_from_db()
    assert case.status == Case.Status.IN_PROGRESS
    assert [(e.kind, e.text) for e in case.entries.all()][1:] == [
        ("status", "Status: in progress."),
        ("note", "Called their admin."),
        ("reply", "Sorry! Fixed now."),
    ]

    change_page(admin_client, case, status="closed", send_followup="on")

    case.refresh_from_db()
    assert case.status == Case.Status.CLOSED
    assert case.closed_at is not None
    assert case.followup_sent_at is not None
    followup = smtp.messages[1]
    assert followup["Subject"] == "Did we solve it?"
    [link] = re.findall(r"https?://\S+/c/\S+/", followup.get_content())
    path = link.removeprefix("https://feedback.acme.example")

    assert "Did we solve your problem?" in client.get(path).content.decode()  # a GET records nothing
    case.refresh_from_db()
    assert case.solved is None
    thanks = client.post(path, {"solved": "yes"})

    assert "We are glad it is solved." in thanks.content.decode()
    case.refresh_from_db()
    assert case.solved is True
    assert case.entries.last().text == "Yes, the problem is solved."


def test_the_follow_up_page_refuses_altered_links_and_answers_it_cannot_read(
    client: Client, survey: Any
) -> None:
    answer(customer(), 3)
    case = Case.objects.get()
    case.followup_sent_at = timezone.now()
    case.save()
    path = case_followup_link(case=case).split("://", 1)[1].split("/", 1)[1]

    assert client.get(f"/{path}".replace("/c/", "/c/x")).status_code == 404
    assert client.get("/c/%00/").status_code == 404
    assert client.post(f"/{path}", {"solved": "maybe"}).status_code == 400
    case.refresh_from_db()
    assert case.solved is None


def test_a_reply_to_an_erased_customer_is_refused_and_nothing_is_saved(
    admin_client: Client, survey: Any, smtp: SmtpRecorder
) -> None:
    answer(customer(), 3)
    case = Case.objects.get()
    Case.objects.filter(pk=case.pk).update(person=None)

    page = change_page(admin_client, case, status="in_progress", reply="Hello?")

    assert "Nothing was saved: The customer was erased on request" in page.content.decode()
    assert "was changed successfully" not in page.content.decode()
    assert smtp.messages == []
    case.refresh_from_db()
    assert case.status == Case.Status.OPEN


def test_the_cases_list_shows_their_age_and_filters_the_overdue(admin_client: Client, survey: Any) -> None:
    answer(customer(), 3)
    answer(customer(), 1)
    old, new = Case.objects.order_by("pk")
    Case.objects.filter(pk=old.pk).update(
        opened_at=timezone.now() - timedelta(days=3, hours=2), due_at=timezone.now() - timedelta(days=1)
    )

    page = admin_client.get("/admin/actions/case/").content.decode()
    overdue = admin_client.get("/admin/actions/case/?overdue=yes").content.decode()

    assert "3 d 2 h" in page
    assert f"/admin/actions/case/{new.pk}/change/" in page
    assert f"/admin/actions/case/{old.pk}/change/" in overdue
    assert f"/admin/actions/case/{new.pk}/change/" not in overdue
