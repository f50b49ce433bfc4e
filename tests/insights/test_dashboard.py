"""The admin's home page: a new hub's onboarding checklist ticked from real data, with a first call to
copy carrying the real write key and the hub's address; then the live figures, each from an indexed
query."""

from datetime import datetime, timedelta
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from insights.dashboard import figures, nps_shown
from insights.stats import Score
from integrations.models import Delivery, Destination, InboundEvent, Source
from integrations.services import write_key_add
from surveys.models import Response, Trigger
from surveys.services.responses import answers_supersede
from tests.conftest import service_missing
from tests.surveys.factories import invitation_make, person_make, survey_make

pytestmark = pytest.mark.django_db


def home(client: Client) -> str:
    page = client.get("/admin/")
    assert page.status_code == 200
    return unescape(page.content.decode())


def ticked(page: str) -> list[str]:
    """The onboarding steps the page marks as done, by their key."""
    return [
        key
        for key in ("source", "call", "survey", "automation", "sync_back")
        if f'hub-step-done" data-step="{key}"' in page
    ]


def call_store(source: Source, *, received_at: datetime | None = None) -> InboundEvent:
    return InboundEvent.objects.create(
        source=source,
        message_id=f"m-{InboundEvent.objects.count()}",
        type="identify",
        user_id="u1",
        received_at=received_at or timezone.now(),
        payload={"type": "identify", "userId": "u1"},
    )


def test_the_home_page_is_branded_and_lists_sections_in_the_order_staff_use_them(
    admin_client: Client,
) -> None:
    page = home(admin_client)

    assert "<title>Dashboard | Feedback Hub</title>" in page
    assert ">Feedback Hub</a>" in page  # the header
    sections = [
        "Surveys",
        "Acting on answers",
        "People",
        "Sources & events",
        "Destinations & deliveries",
        "Settings",
    ]
    positions = [page.find(f'<span class="section">{name}</span>') for name in sections]
    assert -1 not in positions
    assert positions == sorted(positions)
    # Plain names, and each model in its section (Answers under Surveys, before People).
    assert page.find(">Answers</a>") < positions[1] < page.find(">Cases</a>") < positions[2]
    assert positions[1] < page.find(">Alert rules</a>") < positions[2]
    assert positions[2] < page.find(">Do-not-contact list</a>") < positions[3]
    assert page.find(">Answers</a>") < page.find(">Testimonials</a>") < positions[1]
    assert positions[5] < page.find(">Testimonial settings</a>")
    assert positions[5] < page.find(">Periodic tasks</a>")
    assert positions[5] < page.find(">Tokens</a>")


def test_a_new_hub_shows_every_step_to_do(admin_client: Client) -> None:
    page = home(admin_client)

    assert "Get started" in page
    assert ticked(page) == []
    assert "Today" not in page  # no figures before anything runs


def test_each_step_is_ticked_from_the_data(admin_client: Client, settings) -> None:
    settings.HUB_BASE_URL = "http://127.0.0.1:8100"
    source = Source.objects.create(name="Web app", slug="web-app")
    key = write_key_add(source=source).key
    page = home(admin_client)
    assert ticked(page) == ["source"]
    # The first call to copy carries the real key and the hub's own address.
    assert f"curl -u '{key}:'" in page
    assert "http://127.0.0.1:8100/v1/identify" in page
    assert f'analytics.write_key = "{key}"' in page
    assert 'analytics.host = "http://127.0.0.1:8100"' in page

    call_store(source)
    survey = survey_make(automation_enabled=False)
    assert ticked(home(admin_client)) == ["source", "call"]  # a survey without a trigger asks nobody

    Trigger.objects.create(survey=survey, source=source, call_type="identify")
    assert ticked(home(admin_client)) == ["source", "call", "survey"]

    survey.automation_enabled = True
    survey.save()
    page = home(admin_client)
    assert ticked(page) == ["source", "call", "survey", "automation"]
    assert key not in page  # the snippet goes once the first call came in

    destination = Destination(source=source, kind="segment", name="Segment", settings={})
    destination.secrets_update({"write_key": "sk-segment"})
    destination.save()
    page = home(admin_client)
    assert "Get started" not in page  # all done: the checklist gives way to the figures


def test_staff_who_may_not_see_sources_get_no_write_key(client: Client, django_user_model) -> None:
    source = Source.objects.create(name="Web app", slug="web-app")
    key = write_key_add(source=source).key
    client.force_login(django_user_model.objects.create_user("viewer", password="pw-viewer-1", is_staff=True))

    page = home(client)

    assert "Send a first call" in page
    assert key not in page


def test_a_running_hub_shows_its_figures_with_links(admin_client: Client, source: Source) -> None:
    now = timezone.now()
    call_store(source)
    call_store(source)
    call_store(source, received_at=now - timedelta(days=2))
    survey = survey_make()
    invitation_make(survey=survey, person=person_make())  # due a minute ago
    invitation_make(survey=survey, person=person_make(), due_at=now + timedelta(days=1))
    for rating in (10, 9, 9, 3):
        invitation = invitation_make(survey=survey, person=person_make(), status="responded")
        Response.objects.create(invitation=invitation, survey=survey, person=invitation.person, rating=rating)
    changed_mind = invitation.person  # answered 3 before that 0: a person counts once, by their latest
    Response.objects.create(
        invitation=invitation_make(survey=survey, person=changed_mind, status="responded"),
        survey=survey,
        person=changed_mind,
        rating=0,
        answered_at=now - timedelta(days=3),
    )
    answers_supersede(Response.objects.filter(person=changed_mind))
    destination = Destination.objects.create(
        source=source, kind="webhook", name="Ops hook", settings={"url": "https://ops.example.com/h"}
    )
    for number, status in enumerate(["dead", "failed", "delivered"]):
        Delivery.objects.create(
            destination=destination,
            event_type="response.created",
            idempotency_key=f"k{number}",
            payload={},
            status=status,
            retry_until=now,
        )

    page = home(admin_client)

    assert "<strong>2</strong> calls today" in page
    assert "<strong>1</strong> invitation due" in page
    assert "<strong>5</strong> answers this week" in page
    # People, as the reports count by default: 3 promoters, 1 detractor of 4, +50 with its 95 % margin
    # (the 5 answers would say +20); the same score as the overview report of the same 30 days.
    assert '<a href="/admin/insights/surveyreport/?days=30"' in page
    assert "<strong>NPS +50</strong> ± 85 (4 people, 30 days)" in page
    overview = unescape(admin_client.get("/admin/insights/surveyreport/?days=30").content.decode())
    assert '<span class="report-score" id="nps">50</span>' in overview
    assert "<strong>2</strong> failing deliveries" in page
    assert f'?destination__id__exact={destination.pk}&status__in=failed,dead">Ops hook</a>' in page
    listed = admin_client.get(
        f"/admin/integrations/delivery/?destination__id__exact={destination.pk}&status__in=failed,dead"
    )
    assert listed.status_code == 200
    assert listed.content.decode().count('class="hub-status hub-status-') == 2


def test_the_nps_margin_narrows_with_more_people() -> None:
    assert nps_shown(Score(promoters=0, passives=0, detractors=0)) is None
    assert nps_shown(Score(promoters=1, passives=0, detractors=0)).margin is None  # type: ignore[union-attr]
    small = nps_shown(Score(promoters=5, passives=3, detractors=2))
    large = nps_shown(Score(promoters=500, passives=300, detractors=200))
    assert small is not None
    assert large is not None
    assert (small.score, small.margin) == (30, 48)
    assert (large.score, large.margin) == (30, 5)


def test_every_figure_is_read_through_an_index(source: Source) -> None:
    if connection.vendor != "postgresql":
        service_missing("PostgreSQL (EXPLAIN)")
    call_store(source)
    survey_make()  # so that the NPS is asked of the answers
    with CaptureQueriesContext(connection) as queries:
        figures()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # tiny tables: make the planner show its best index
        for query in queries.captured_queries:
            sql = query["sql"]
            if 'FROM "surveys_survey"' in sql.split("WHERE")[0] and "JOIN" not in sql:
                continue  # the survey ids themselves: a handful of rows
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan" not in plan, f"{sql}\n{plan}"


def test_the_figures_read_the_survey_ids_once() -> None:
    survey_make()
    with CaptureQueriesContext(connection) as queries:
        figures()
    survey_ids = [
        query["sql"] for query in queries.captured_queries if 'FROM "surveys_survey"' in query["sql"]
    ]
    assert len(survey_ids) == 1, survey_ids
