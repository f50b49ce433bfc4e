"""Staff email: an alert emailed to the team through the hub's mail server (a real local SMTP server),
retried while the server is away, failed for good when the address is refused."""

import pytest

from integrations.base import ALERT_FIRED
from integrations.deliveries import delivery_enqueue
from integrations.delivery_loop import deliveries_deliver_due
from integrations.models import Delivery, Destination
from tests.integrations.connectors.outbound import destination_create, vendor_request
from tests.integrations.connectors.test_slack import alert
from tests.surveys.conftest import SmtpRecorder, smtp_server  # noqa: F401 - the SMTP fixtures
from tests.surveys.conftest import smtp as smtp

pytestmark = pytest.mark.django_db


@pytest.fixture
def team() -> Destination:
    return destination_create(
        "staff_email", settings={"to": ["cs-team@acme.example"]}, secrets={}, call_types=[]
    )


def send(destination: Destination, key: str = "alert:42:1") -> Delivery:
    delivery = delivery_enqueue(
        destination=destination, event_type=ALERT_FIRED, data=alert(), idempotency_key=key
    )
    assert delivery is not None
    deliveries_deliver_due()
    delivery.refresh_from_db()
    return delivery


def test_an_alert_is_one_email_to_the_team(smtp: SmtpRecorder, team: Destination) -> None:
    delivery = send(team)

    assert delivery.status == Delivery.Status.DELIVERED
    [message] = smtp.messages
    expected = vendor_request("staff_email", "alert.fired")  # tests/fixtures/staff_email/
    assert [message["To"]] == expected["to"]
    assert message["Subject"] == expected["subject"]
    assert message.get_content().splitlines() == expected["body"]
    assert message["Message-ID"] == "<alert-42-1@feedback.acme.example>"


def test_a_refused_address_fails_for_good_and_a_missing_server_is_retried(
    smtp: SmtpRecorder, team: Destination, settings: object
) -> None:
    smtp.refuse.add("cs-team@acme.example")
    assert send(team).status == Delivery.Status.FAILED

    settings.EMAIL_PORT = 1  # type: ignore[attr-defined]  # nobody listens
    delivery = send(team, key="alert:43:1")
    assert (delivery.status, delivery.last_error) == (
        Delivery.Status.PENDING,
        "mail server: ConnectionRefusedError: [Errno 111] Connection refused",
    )


def test_to_must_be_addresses(team: Destination) -> None:
    problems = team.configuration_problems(kind="staff_email", settings={"to": "x"}, secrets={})
    assert problems == ["settings: 'to' must be a list of email addresses."]
