"""Public addresses stay callable, whatever form they are written in (the guard must not over-refuse)."""

from ipaddress import ip_address
from typing import Any

import pytest

from integrations.egress import address_allowed, address_class


@pytest.mark.parametrize(
    "address",
    [
        "93.184.216.34",
        "8.8.8.8",
        "100.63.255.255",  # just below the CGNAT block
        "172.32.0.1",  # just above 172.16.0.0/12
        "2606:4700:4700::1111",
        "2a00:1450:4001:81a::200e",
        "::ffff:8.8.8.8",  # IPv4-mapped public address
        "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    ],
)
def test_public_addresses_are_not_refused(address: str) -> None:
    assert address_class(ip_address(address)) is None


def test_an_allowed_network_matches_an_ipv4_address_written_as_ipv6(settings: Any) -> None:
    settings.HUB_OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]

    assert address_allowed(ip_address("::ffff:127.0.0.1"))
    assert not address_allowed(ip_address("127.0.0.2"))
    assert not address_allowed(ip_address("::1"))
