"""Embedded mode runs with DEBUG on: no address may show Django's debug 404 page (which lists every
route). `/` leads to the admin, /v1/ answers JSON, everything else a page for people."""

from typing import Any

import pytest
from django.test import Client

DEBUG_PAGE_MARKS = ("URLconf", "urlpatterns", "DEBUG = True", "Raised by")


@pytest.fixture(autouse=True)
def _embedded_debug(settings: Any) -> None:
    settings.DEBUG = True


def assert_friendly_404(response: Any, path: str) -> None:
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Page not found" in page
    assert not [mark for mark in DEBUG_PAGE_MARKS if mark in page]
    assert 'href="/admin/"' in page
    assert path in page


def test_the_root_leads_to_the_admin(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/admin/"


@pytest.mark.parametrize("method", ["get", "post", "put"])
def test_unknown_intake_addresses_answer_json_404(client: Client, method: str) -> None:
    response = client.generic(method.upper(), "/v1/identfy", "{}", content_type="application/json")
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == "not_found"
    assert "/v1/identify" in body["message"]


def test_a_wrong_method_on_the_intake_answers_json_405(client: Client) -> None:
    response = client.get("/v1/track")
    assert response.status_code == 405
    assert response.json() == {"code": "method_not_allowed", "message": 'Method "GET" not allowed.'}


def test_unknown_pages_get_a_friendly_404_with_the_address_escaped(client: Client) -> None:
    response = client.get("/nothing/<b>here</b>/")
    assert_friendly_404(response, "/nothing/")
    assert "<b>here</b>" not in response.content.decode()
    assert "&lt;b&gt;here&lt;/b&gt;" in response.content.decode()


def test_the_slash_redirect_still_works(client: Client) -> None:
    response = client.get("/admin?x=1")
    assert response.status_code == 301
    assert response["Location"] == "/admin/?x=1"


def test_a_404_raised_by_a_view_gets_the_friendly_page(admin_client: Client) -> None:
    assert_friendly_404(admin_client.get("/admin/no-such-app/"), "/admin/no-such-app/")
