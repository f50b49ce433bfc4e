"""The report service: people not answers, the margin, significance, small samples, hidden cells,
response rate, distribution, drivers, breakdowns, filters and trends, all on the database."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from customers.models import Account, Membership
from insights.dimensions import ReportQueryInvalid
from insights.selectors import Window
from insights.services.reports import report_build, surveys_scores
from integrations.models import InboundEvent, Source
from surveys.models import Invitation
from surveys.services.collector_links import collector_create
from tests.insights.answers import answer_make, answers_make
from tests.surveys.factories import invitation_make, person_make, survey_make

pytestmark = pytest.mark.django_db

MARCH = Window(start=datetime(2026, 3, 1, tzinfo=UTC), end=datetime(2026, 4, 1, tzinfo=UTC))
FEBRUARY = Window(start=datetime(2026, 1, 29, tzinfo=UTC), end=datetime(2026, 3, 1, tzinfo=UTC))
MID_MARCH = datetime(2026, 3, 15, 12, tzinfo=UTC)


def test_the_issue_case_on_the_database() -> None:
    survey = survey_make()
    answers_make(survey=survey, ratings={10: 50, 8: 30, 3: 20}, at=MID_MARCH)

    report = report_build(survey=survey, period=MARCH)

    assert (report.score.n, report.score.nps, round(report.score.margin or 0, 1)) == (100, 30, 15.3)
    assert report.distribution == [0, 0, 0, 20, 0, 0, 0, 0, 30, 0, 50]
    assert not report.score.small_sample


def test_a_person_counts_once_with_their_latest_answer_unless_every_answer_is_asked_for() -> None:
    survey = survey_make()
    person = person_make()
    answer_make(survey=survey, person=person, rating=2, at=MID_MARCH)
    answer_make(survey=survey, person=person, rating=10, at=MID_MARCH + timedelta(days=3))
    answer_make(survey=survey, rating=0, at=MID_MARCH)

    people = report_build(survey=survey, period=MARCH)
    answers = report_build(survey=survey, period=MARCH, count="answers")

    assert (people.score.n, people.score.promoters, people.score.detractors) == (2, 1, 1)
    assert (answers.score.n, answers.score.promoters, answers.score.detractors) == (3, 1, 2)
    assert people.score.small_sample


def test_the_change_from_the_period_before_says_whether_it_is_significant() -> None:
    survey = survey_make()
    answers_make(survey=survey, ratings={10: 50, 8: 30, 3: 20}, at=FEBRUARY.start + timedelta(days=5))
    answers_make(survey=survey, ratings={10: 75, 8: 20, 3: 5}, at=MID_MARCH)

    report = report_build(survey=survey, period=MARCH)

    assert report.previous is not None
    assert report.previous.nps == 30
    assert report.change is not None
    assert report.change.delta == pytest.approx(40)
    assert report.change.significant


def test_a_breakdown_hides_cells_under_five_people_and_counts_them() -> None:
    survey = survey_make()
    answers_make(survey=survey, ratings={10: 6}, at=MID_MARCH, language="en")
    answers_make(survey=survey, ratings={0: 4}, at=MID_MARCH, language="de")
    answers_make(survey=survey, ratings={9: 1}, at=MID_MARCH, language="fr")

    report = report_build(survey=survey, period=MARCH, breakdowns=["language"])

    (languages,) = report.breakdowns
    assert [(cell.label, cell.score.n, cell.score.nps) for cell in languages.cells] == [("en", 6, 100)]
    assert (languages.hidden_cells, languages.hidden_people) == (2, 5)


def test_breakdowns_by_trait_source_and_tag_rating() -> None:
    survey = survey_make(tags=["Support"])
    for plan, rating, tag in [("pro", 10, 5)] * 5 + [("free", 2, 1)] * 5:
        answer_make(
            survey=survey,
            rating=rating,
            at=MID_MARCH,
            person=person_make(traits={"plan": plan}),
            tag_ratings={"Support": tag},
        )

    report = report_build(survey=survey, period=MARCH, breakdowns=["trait:plan", "source", "tag:Support"])

    plans, sources, ratings = report.breakdowns
    assert {cell.label: cell.score.nps for cell in plans.cells} == {"pro": 100, "free": -100}
    assert [(cell.label, cell.score.n) for cell in sources.cells] == [("Web app", 10)]
    assert {cell.value: cell.score.nps for cell in ratings.cells} == {"5": 100, "1": -100}
    (driver,) = report.drivers
    assert (driver.tag, driver.answers, driver.average) == ("Support", 10, 3.0)
    assert driver.correlation == pytest.approx(1.0)


def test_filters_narrow_every_number() -> None:
    survey = survey_make()
    for plan, rating in [("pro", 10)] * 3 + [("free", 0)] * 2:
        answer_make(survey=survey, rating=rating, at=MID_MARCH, person=person_make(traits={"plan": plan}))

    report = report_build(survey=survey, period=MARCH, filters={"trait:plan": "pro"})

    assert (report.score.n, report.score.nps) == (3, 100)
    assert report.response_rate is not None
    assert report.response_rate.delivered == 3


def test_an_unknown_dimension_is_refused() -> None:
    with pytest.raises(ReportQueryInvalid, match="Unknown dimension"):
        report_build(survey=survey_make(), period=MARCH, breakdowns=["shoe size"])


def test_the_response_rate_is_answered_over_delivered_invitations() -> None:
    survey = survey_make()
    answers_make(survey=survey, ratings={10: 3}, at=MID_MARCH)
    for _ in range(5):
        invitation_make(survey=survey, person=person_make(), status="sent", sent_at=MID_MARCH)
    invitation_make(survey=survey, person=person_make(), status="scheduled")  # not delivered

    rate = report_build(survey=survey, period=MARCH).response_rate

    assert rate is not None
    assert (rate.answered, rate.delivered, rate.rate) == (3, 8, 3 / 8)


def test_the_trend_has_a_point_per_week_with_its_margin() -> None:
    survey = survey_make()
    answers_make(survey=survey, ratings={10: 3, 0: 1}, at=datetime(2026, 3, 3, tzinfo=UTC))
    answers_make(survey=survey, ratings={10: 1, 0: 1}, at=datetime(2026, 3, 17, tzinfo=UTC))

    report = report_build(survey=survey, period=MARCH, granularity="week")

    assert [(point.start.date().isoformat(), point.score.nps) for point in report.trend] == [
        ("2026-03-02", 50),
        ("2026-03-16", 0),
    ]
    assert all(point.score.margin and point.score.margin > 0 for point in report.trend)


def test_a_person_counts_once_per_trend_point() -> None:
    survey = survey_make()
    person = person_make()
    answer_make(survey=survey, person=person, rating=0, at=datetime(2026, 3, 2, tzinfo=UTC))
    answer_make(survey=survey, person=person, rating=10, at=datetime(2026, 3, 3, tzinfo=UTC))
    answer_make(survey=survey, person=person, rating=10, at=datetime(2026, 3, 10, tzinfo=UTC))

    report = report_build(survey=survey, period=MARCH, granularity="week")

    assert [(point.score.n, point.score.nps) for point in report.trend] == [(1, 100), (1, 100)]


def test_rolling_windows_score_the_days_up_to_each_point() -> None:
    survey = survey_make()
    answers_make(survey=survey, ratings={0: 2}, at=datetime(2026, 2, 10, tzinfo=UTC))
    answers_make(survey=survey, ratings={10: 2}, at=datetime(2026, 3, 20, tzinfo=UTC))

    report = report_build(survey=survey, period=MARCH, rolling_days=30)

    by_end = {point.end.date().isoformat(): point.score for point in report.rolling}
    assert (by_end["2026-03-02"].n, by_end["2026-03-02"].nps) == (2, -100)  # Feb 10 within 30 days
    assert by_end["2026-03-21"].nps == 100  # Feb 10 is 39 days before
    assert len(report.rolling) == 31


def test_a_breakdown_by_channel_names_the_collector_or_the_trigger_event() -> None:
    survey = survey_make()
    collector = collector_create(survey=survey, name="Intercom: closed chats")
    web = person_make().source
    assert collector.source is not None
    for source, call_type, event, many in [
        (collector.source, "track", "", 5),
        (web, "track", "Order Completed", 6),
    ]:
        for _ in range(many):
            trigger = InboundEvent.objects.create(
                source=source,
                message_id=f"m-{InboundEvent.objects.count()}",
                type=call_type,
                event=event,
                received_at=MID_MARCH,
                payload={},
            )
            answer = answer_make(survey=survey, rating=10, at=MID_MARCH)
            Invitation.objects.filter(pk=answer.invitation_id).update(trigger_event=trigger)
    answer_make(survey=survey, rating=0, at=MID_MARCH)  # invited without a trigger event: no channel

    (channels,) = report_build(survey=survey, period=MARCH, breakdowns=["channel"]).breakdowns

    assert [(cell.label, cell.score.n) for cell in channels.cells] == [
        ("track Order Completed", 6),
        ("collector: Intercom: closed chats", 5),
    ]
    assert channels.hidden_cells == 1
    value = channels.cells[0].value
    assert value is not None
    assert report_build(survey=survey, period=MARCH, filters={"channel": value}).score.n == 6


def test_a_breakdown_by_account_counts_a_person_in_each_of_their_accounts() -> None:
    survey = survey_make()
    source = person_make().source
    acme = Account.objects.create(source=source, group_id="g-acme", name="Acme")
    globex = Account.objects.create(source=source, group_id="g-globex", name="")
    for index in range(6):
        person = person_make()
        Membership.objects.create(person=person, account=acme)
        if index < 5:
            Membership.objects.create(person=person, account=globex)
        answer_make(survey=survey, person=person, rating=10 if index % 2 else 0, at=MID_MARCH)

    report = report_build(survey=survey, period=MARCH, breakdowns=["account"])
    filtered = report_build(survey=survey, period=MARCH, filters={"account": str(globex.pk)})

    assert [(cell.label, cell.score.n) for cell in report.breakdowns[0].cells] == [
        ("Acme", 6),
        ("g-globex", 5),
    ]
    assert report.score.n == 6  # in the total each person counts once
    assert filtered.score.n == 5


def test_the_response_rate_follows_every_filter_an_invitation_can_take() -> None:
    survey = survey_make()
    web = person_make().source
    mobile = Source.objects.create(name="Mobile", slug="mobile")
    acme = Account.objects.create(source=web, group_id="g-acme", name="Acme")
    trigger = InboundEvent.objects.create(
        source=web, message_id="m-1", type="track", event="Order Completed", received_at=MID_MARCH, payload={}
    )
    # A delivered invitation that matches every filter below, then one that differs in each dimension.
    matching: dict[str, Any] = {
        "source": web,
        "plan": "pro",
        "account": True,
        "language": "en",
        "trigger_event": trigger,
    }
    differing_in_one: list[dict[str, Any]] = [
        {},
        {"source": mobile},
        {"account": False},
        {"language": "de"},
        {"plan": "free"},
        {"trigger_event": None},
    ]
    for differing in differing_in_one:
        fields = {**matching, **differing}
        person = person_make(source=fields["source"], traits={"plan": fields["plan"]})
        if fields["account"]:
            Membership.objects.create(person=person, account=acme)
        invitation_make(
            survey=survey,
            person=person,
            status="sent",
            sent_at=MID_MARCH,
            language=fields["language"],
            trigger_event=fields["trigger_event"],
        )

    def delivered(filters: dict[str, str]) -> int | None:
        rate = report_build(survey=survey, period=MARCH, filters=filters, compare=False).response_rate
        return None if rate is None else rate.delivered

    assert delivered({}) == 6
    assert delivered({"source": str(web.pk)}) == 5
    assert delivered({"account": str(acme.pk)}) == 5
    assert delivered({"language": "en"}) == 5
    assert delivered({"trait:plan": "pro"}) == 5
    assert delivered({"channel": f"{web.pk}:track:Order Completed"}) == 5
    assert delivered({"language": "en", "trait:plan": "pro", "source": str(web.pk)}) == 3
    assert delivered({"tag:Support": "5"}) is None  # a tag rating exists only on answers


def test_each_surveys_score_in_the_overview_is_that_surveys_report() -> None:
    checkout = survey_make(name="Checkout NPS", slug="checkout")
    support = survey_make(name="Support NPS", slug="support")
    for _ in range(3):
        person = person_make()
        answer_make(survey=checkout, person=person, rating=10, at=MID_MARCH)
        answer_make(survey=support, person=person, rating=0, at=MID_MARCH + timedelta(days=1))
    answer_make(survey=checkout, rating=8, at=MID_MARCH)

    for count in ("people", "answers"):
        scores = {row.survey: row.score for row in surveys_scores(period=MARCH, count=count)}
        for survey in (checkout, support):
            assert scores[survey] == report_build(survey=survey, period=MARCH, count=count).score, count
    # Hub-wide a person counts once: their latest answer, to either survey.
    assert report_build(period=MARCH).score.n == 4
