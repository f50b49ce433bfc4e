"""The contact lookup against a real local HTTP server standing in for api.intercom.io."""

from typing import Any

import pytest
from pytest_httpserver import HTTPServer

from integrations.base import ConnectorError
from integrations.intercom.client import contact_fetch
from integrations.intercom.handler import IntercomContact

TOKEN = "dG9rOmFjY2Vzcy10b2tlbg=="


@pytest.fixture(autouse=True)
def _api_base(httpserver: HTTPServer, settings: Any) -> None:
    settings.INTERCOM_API_BASE = httpserver.url_for("/")


def test_the_lookup_reads_email_name_and_language(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        "/contacts/6745d011",
        method="GET",
        headers={"Authorization": f"Bearer {TOKEN}", "Intercom-Version": "2.11"},
    ).respond_with_json(
        {
            "type": "contact",
            "id": "6745d011",
            "external_id": "cust-3",
            "email": "lea@example.com",
            "name": "Lea",
            "browser_language": "nl",
            "custom_attributes": {f"attribute_{n}": "x" * 40 for n in range(200)},  # beyond 4 KB
        }
    )
    contact, language = contact_fetch(contact_id="6745d011", access_token=TOKEN)
    assert contact == IntercomContact(
        email="lea@example.com", name="Lea", external_id="cust-3", intercom_id="6745d011"
    )
    assert language == "nl"


def test_an_unknown_contact_is_a_permanent_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/contacts/nobody").respond_with_json({"type": "error.list"}, status=404)
    with pytest.raises(ConnectorError) as error:
        contact_fetch(contact_id="nobody", access_token=TOKEN)
    assert error.value.permanent
    assert TOKEN not in str(error.value.exchange)


def test_a_server_error_is_worth_retrying(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/contacts/c1").respond_with_data("busy", status=503)
    with pytest.raises(ConnectorError) as error:
        contact_fetch(contact_id="c1", access_token=TOKEN)
    assert not error.value.permanent
