"""The one HTTP seam calls only public addresses (plus the networks an operator allows), judged
after DNS resolution, connecting to the address it judged; TLS still checks the host name."""

import ssl
from collections.abc import Iterator
from typing import Any

import pytest
import trustme
from pytest_httpserver import HTTPServer
from werkzeug import Response

from integrations.base import ConnectorError
from integrations.http import HttpClient
from integrations.intercom.client import contact_fetch
from tests.integrations.egress.conftest import PUBLIC_IP, Network

SETTING = "HUB_OUTBOUND_ALLOWED_NETWORKS"


def refused(url: str, **kwargs: Any) -> ConnectorError:
    client = HttpClient(timeout=1.0, **kwargs)
    try:
        with pytest.raises(ConnectorError) as error:
            client.request("POST", url, json={"score": 9})
    finally:
        client.close()
    return error.value


@pytest.mark.parametrize(
    ("host", "address_class"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("[::1]", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.5.4", "private"),
        ("172.31.255.254", "private"),
        ("192.168.1.1", "private"),
        ("[fd00::1]", "private"),
        ("[fc00::5]", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata service
        ("[fe80::1]", "link-local"),
        ("100.64.0.1", "shared (CGNAT)"),
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address under test, not a bind address
        ("[::]", "unspecified"),
        ("192.0.2.10", "reserved"),  # documentation
        ("198.18.0.1", "reserved"),  # benchmarking
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("[2001:db8::1]", "reserved"),  # documentation
        ("[::ffff:127.0.0.1]", "loopback"),  # IPv4-mapped
        ("[::ffff:10.0.0.1]", "private"),
        ("[64:ff9b::a9fe:a9fe]", "link-local"),  # NAT64 of 169.254.169.254
        ("[2002:7f00:1::]", "loopback"),  # 6to4 of 127.0.0.1
    ],
)
def test_every_kind_of_internal_address_is_refused_before_connecting(
    network: Network, nothing_allowed: None, host: str, address_class: str
) -> None:
    error = refused(f"http://{host}:8009/hooks")

    assert error.permanent
    assert f"a {address_class} address" in error.message
    assert SETTING in error.message
    assert network.connects_to(8009) == [], "no connection is even attempted"
    assert error.exchange is not None
    assert error.exchange.error == error.message, "the exchange is recorded, with the reason"


def test_a_name_that_resolves_to_an_internal_address_is_refused(
    network: Network, nothing_allowed: None, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hooks").respond_with_data("ok")
    network.answers("hooks.customer.example", ["10.0.0.7"])

    local = refused(httpserver.url_for("/hooks"))  # http://localhost:<port>/hooks
    private = refused("https://hooks.customer.example/hooks")

    assert "localhost resolves to 127.0.0.1, a loopback address" in local.message
    assert "hooks.customer.example resolves to 10.0.0.7, a private address" in private.message
    assert local.permanent
    assert private.permanent
    assert httpserver.log == []


def test_a_name_with_an_internal_address_among_public_ones_is_refused(
    network: Network, nothing_allowed: None, httpserver: HTTPServer
) -> None:
    """Every address of the answer is checked, not only the first one."""
    httpserver.expect_request("/hooks").respond_with_data("ok")
    network.answers("hooks.customer.example", [PUBLIC_IP, "127.0.0.1"])

    error = refused(f"http://hooks.customer.example:{httpserver.port}/hooks")

    assert error.permanent
    assert "resolves to 127.0.0.1, a loopback address" in error.message
    assert httpserver.log == []
    assert network.connects_to(httpserver.port) == []


def test_dns_rebinding_cannot_move_the_connection_after_the_check(
    network: Network, nothing_allowed: None, httpserver: HTTPServer
) -> None:
    """The name answers a public address, then 127.0.0.1 to every later lookup: the hub looks it up
    once and connects to the public address it checked (forwarded here to the local server)."""
    httpserver.expect_request("/hooks").respond_with_data("ok")
    network.answers("hooks.customer.example", [PUBLIC_IP], then=["127.0.0.1"])
    network.forward(PUBLIC_IP)
    client = HttpClient(timeout=2.0)

    exchange = client.request("POST", f"http://hooks.customer.example:{httpserver.port}/hooks", json={})

    assert exchange.status == 200
    assert network.lookups == ["hooks.customer.example"], "one resolution, no second one to connect"
    assert network.connects_to(httpserver.port) == [PUBLIC_IP]
    ((request, _),) = httpserver.log
    assert request.headers["Host"] == f"hooks.customer.example:{httpserver.port}", "Host stays the name"

    # A new connection resolves again, and is judged again.
    client.close()
    with pytest.raises(ConnectorError, match=r"resolves to 127\.0\.0\.1, a loopback address"):
        HttpClient(timeout=2.0).request("POST", f"http://hooks.customer.example:{httpserver.port}/hooks")
    assert network.connects_to(httpserver.port) == [PUBLIC_IP]


def test_the_allowed_networks_let_a_local_server_through(settings: Any, httpserver: HTTPServer) -> None:
    settings.HUB_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    httpserver.expect_request("/hooks").respond_with_data("ok")

    exchange = HttpClient(timeout=2.0).request("POST", httpserver.url_for("/hooks"), json={})

    assert exchange.status == 200
    settings.HUB_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.2/32", "10.0.0.0/8"]
    assert "loopback" in refused(httpserver.url_for("/hooks")).message


def test_a_redirect_to_an_internal_address_is_not_followed(network: Network, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hooks").respond_with_response(
        Response("moved", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    )

    error = refused(httpserver.url_for("/hooks"))

    assert error.permanent
    assert error.status == 302
    assert "redirected to http://169.254.169.254/latest/meta-data/" in error.message
    assert len(httpserver.log) == 1
    assert [address for address, _ in network.connects] == ["127.0.0.1"], "one connection: no redirect"


def test_the_intercom_client_is_guarded_too(
    settings: Any, nothing_allowed: None, httpserver: HTTPServer
) -> None:
    settings.INTERCOM_API_BASE = httpserver.url_for("/")
    token = "dG9rOmFjY2Vzcy10b2tlbg=="

    with pytest.raises(ConnectorError) as error:
        contact_fetch(contact_id="6745d011", access_token=token)

    assert error.value.permanent
    assert "loopback" in error.value.message
    assert token not in str(error.value.exchange)
    assert httpserver.log == []


# --- TLS: the connection goes to the checked IP, the certificate is checked against the name ------


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[tuple[HTTPServer, list[str]]]:
    """An HTTPS server on 127.0.0.1 whose certificate names hooks.customer.example; it records the
    SNI names clients send."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.customer.example").configure_cert(context)
    names: list[str] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    server = HTTPServer(host="127.0.0.1", ssl_context=context)
    server.start()
    server.expect_request("/hooks").respond_with_data("ok")
    try:
        yield server, names
    finally:
        server.stop()


def test_tls_verifies_the_name_while_connecting_to_the_checked_address(
    network: Network,
    ca: trustme.CA,
    tls_server: tuple[HTTPServer, list[str]],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, sni = tls_server
    for variable in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they would win over session.verify
        monkeypatch.delenv(variable, raising=False)
    network.answers("hooks.customer.example", ["127.0.0.1"])
    network.answers("other.customer.example", ["127.0.0.1"])
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    client = HttpClient(timeout=2.0)
    client.session.verify = str(bundle)

    exchange = client.request("POST", f"https://hooks.customer.example:{server.port}/hooks", json={})

    assert exchange.status == 200
    assert sni == ["hooks.customer.example"]
    ((request, _),) = server.log
    assert request.headers["Host"] == f"hooks.customer.example:{server.port}"
    assert network.connects_to(server.port) == ["127.0.0.1"]
    # The same server under a name its certificate does not carry: the hostname check fails.
    with pytest.raises(ConnectorError, match=r"certificate|hostname"):
        client.request("POST", f"https://other.customer.example:{server.port}/hooks", json={})
    assert len(server.log) == 1
