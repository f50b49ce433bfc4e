"""The browser under test is offline but for the hub, as a machine without internet would be. A page
that asks another host for something (a survey's logo on the customer's site, a CDN) gets an
immediate failure instead of waiting on the machine's network: on CI a case's follow-up page, whose
survey logo is https://acme.example/logo.png, did not fire its load event within the tests' 5 s."""

import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error, Page


def test_a_page_reaches_no_host_but_the_hub(page: Page, live_server: Any) -> None:
    # The hub itself under this machine's name: a host that resolves here, to the hub's own address.
    port = urlsplit(live_server.url).port
    elsewhere = f"http://{socket.gethostname()}:{port}/admin/login/"

    response = page.goto("/admin/login/")
    assert response is not None
    assert response.ok
    with pytest.raises(Error, match="ERR_NAME_NOT_RESOLVED"):
        page.goto(elsewhere)
