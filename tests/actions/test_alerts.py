"""Alert rules: which answers fire them (band, score range, comment, person and account conditions, a
change to detractor), once per answer and rule, through the delivery engine to the rule's channels of
the answer's own source, at once or in a digest that lists each answer once."""

import pytest
from django.core.exceptions import ValidationError
from pytest_httpserver import HTTPServer

from actions.models import AlertFiring, AlertRule
from actions.services.alerts import alerts_digest_send
from integrations.base import ALERT_DIGEST, ALERT_FIRED
from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination, Source
from surveys.services.responses import response_followup_save
from tests.actions.conftest import (
    SLACK_PATH,
    answer,
    change,
    customer,
    rule_make,
    slack_messages,
)
from tests.integrations.connectors.outbound import destination_create
from tests.surveys.conftest import SmtpRecorder

pytestmark = pytest.mark.django_db

ENTERPRISE = [{"path": "account.traits.plan", "op": "equals", "value": "enterprise"}]


def test_an_enterprise_detractor_saying_too_slow_is_one_slack_message_and_one_staff_email(
    survey: object, slack: Destination, team_email: Destination, smtp: SmtpRecorder, httpserver: HTTPServer
) -> None:
    rule_make(slack, team_email, bands=["detractor"], comment_contains="slow, cancel", conditions=ENTERPRISE)

    response = answer(customer(), 3)  # the click: no comment yet, nothing fires
    assert not Delivery.objects.exists()
    response = response_followup_save(response=response, comment="Support is too SLOW", tag_ratings={})
    response_followup_save(response=response, comment="Support is too SLOW. Really.", tag_ratings={})
    deliveries_deliver_due()

    [message] = slack_messages(httpserver)
    assert message["text"] == "Detractor 3/10 on onboarding (rule: Enterprise detractors)"
    assert "Support is too SLOW" in str(message["blocks"])
    [email] = smtp.messages
    assert email["To"] == "cs-team@acme.example"
    assert "Person: Ann Smith" in email.get_content()
    assert Delivery.objects.filter(status=Delivery.Status.DELIVERED).count() == 2


def test_answers_outside_the_rule_fire_nothing(survey: object, slack: Destination) -> None:
    rule_make(slack, bands=["detractor"], comment_contains="slow", conditions=ENTERPRISE)

    answer(customer(plan="starter"), 3, "too slow")  # not enterprise
    answer(customer(), 9, "too slow? no, fast")  # a promoter
    answer(customer(), 2, "the price")  # another complaint

    assert not AlertFiring.objects.exists()
    assert not Delivery.objects.exists()


def test_a_changed_rating_is_evaluated_again_and_fires_once(survey: object, slack: Destination) -> None:
    rule = rule_make(slack, score_max=4, bands=[])
    response = answer(customer(), 8)
    assert not Delivery.objects.exists()

    response = change(response, 3)
    change(response, 2)
    change(response, 9)

    [delivery] = Delivery.objects.all()
    assert (delivery.event_type, delivery.idempotency_key) == (ALERT_FIRED, f"alert:{response.pk}:{rule.pk}")
    assert delivery.payload["text"].startswith("Detractor 3/10")


def test_changed_to_detractor_fires_only_on_the_change(survey: object, slack: Destination) -> None:
    rule_make(slack, name="Turned detractor", bands=[], changed_to_detractor=True)

    answer(customer(), 3)  # a detractor from the start
    assert not Delivery.objects.exists()
    response = change(answer(customer(), 8), 4)

    [delivery] = Delivery.objects.all()
    assert delivery.idempotency_key == f"alert:{response.pk}:{AlertRule.objects.get().pk}"


def test_account_traits_such_as_licenses(survey: object, slack: Destination) -> None:
    rule_make(
        slack, bands=[], conditions=[{"path": "account.traits.licenses", "op": "at_least", "value": 100}]
    )

    big = answer(customer(licenses=250), 5)
    answer(customer(plan="team", licenses=20), 5)

    assert [f.response_id for f in AlertFiring.objects.all()] == [big.pk]


def test_an_answer_goes_only_to_its_own_source_s_channels(
    survey: object, slack: Destination, httpserver: HTTPServer
) -> None:
    other = Source.objects.create(slug="other-app", name="Other app")
    theirs = destination_create(
        "webhook",
        source=other,
        settings={"url": httpserver.url_for("/theirs")},
        secrets={"signing_secret": "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="},
        call_types=[],
    )
    rule_make(slack, theirs, name="Hub-wide detractors", bands=["detractor"])

    answer(customer(), 2)

    assert [d.destination for d in Delivery.objects.all()] == [slack]


def test_a_daily_digest_lists_each_answer_once(
    survey: object, slack: Destination, httpserver: HTTPServer
) -> None:
    rule_make(slack, name="Daily detractors", timing=AlertRule.Timing.DAILY)
    first, second = answer(customer(), 1, "broken"), answer(customer(), 2)
    assert not Delivery.objects.exists()  # nothing at once

    assert alerts_digest_send(timing=AlertRule.Timing.DAILY) == 2
    assert alerts_digest_send(timing=AlertRule.Timing.DAILY) == 0
    third = answer(customer(), 0)
    assert alerts_digest_send(timing=AlertRule.Timing.WEEKLY) == 0
    assert alerts_digest_send(timing=AlertRule.Timing.DAILY) == 1
    deliveries_deliver_due()

    digests = slack_messages(httpserver)
    assert [m["text"] for m in digests] == [
        "2 answers for rule Daily detractors (daily digest)",
        "1 answer for rule Daily detractors (daily digest)",
    ]
    assert Delivery.objects.filter(event_type=ALERT_DIGEST).count() == 2
    assert {f.response_id for f in AlertFiring.objects.exclude(digest_key="")} == {
        first.pk,
        second.pk,
        third.pk,
    }
    assert httpserver.log[0][0].path == SLACK_PATH


def test_a_rule_s_conditions_are_checked_when_saved() -> None:
    rule = AlertRule(name="x", bands=["grumpy"], score_min=6, score_max=2, conditions=[{"op": "equals"}])

    with pytest.raises(ValidationError) as caught:
        rule.full_clean()

    assert set(caught.value.message_dict) == {"bands", "score_max", "conditions"}
