"""Where the hub's outbound calls may go: public addresses, plus the networks an operator allows in
`HUB_OUTBOUND_ALLOWED_NETWORKS` (e.g. 127.0.0.1/32 for another hub on the same machine).

Staff choose where a destination sends data, and its stored secrets go along. Without this rule a
destination's URL could make the server call inside its own network (SSRF): the cloud metadata
service at 169.254.169.254, an admin port on localhost, a database at 10.0.0.5, with an API key
attached. So every address a name resolves to is classified, and the call is refused unless all of
them are public or allowed:

    address_class(ip_address("10.0.0.5"))          -> "private"
    address_class(ip_address("::ffff:127.0.0.1"))  -> "loopback" (an IPv4 address inside IPv6)
    address_class(ip_address("93.184.216.34"))     -> None (public)

Refused: unspecified (0.0.0.0/8, ::), loopback, link-local (169.254.0.0/16, fe80::/10), multicast,
shared address space (CGNAT, 100.64.0.0/10), private (10/8, 172.16/12, 192.168/16, fc00::/7,
fec0::/10) and whatever else Python's `ipaddress` does not call global or calls reserved
(documentation, benchmarking, 240/4, broadcast ...). IPv4 addresses written as IPv6 (IPv4-mapped
::ffff:a.b.c.d, NAT64 64:ff9b::a.b.c.d, 6to4 2002:aabb:ccdd::) are judged by their IPv4 address.
Python 3.11's `is_global` alone is not enough: it calls multicast, NAT64 and 6to4 addresses global.

`integrations/http.py` checks at connection time and connects to the addresses it checked; forms
and the API check URLs when a destination is saved (`url_refusal`), so staff hear of it at once.
"""

import socket
import threading
from functools import cache
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

from django.conf import settings

ALLOWED_NETWORKS_SETTING = "HUB_OUTBOUND_ALLOWED_NETWORKS"
# Saving a destination waits at most this long for its host name to resolve; a name that does not
# resolve in time is saved and checked when a call is made.
VALIDATION_RESOLVE_SECONDS = 2.0

_THIS_NETWORK = ip_network("0.0.0.0/8")
_SHARED = ip_network("100.64.0.0/10")
_PRIVATE = tuple(
    ip_network(net) for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", "fec0::/10")
)
# NAT64: the well-known prefix carries an IPv4 address in its last 32 bits; the local-use prefix
# (RFC 8215) translates into the site's own network.
_NAT64 = ip_network("64:ff9b::/96")
_NAT64_LOCAL = ip_network("64:ff9b:1::/48")

Address = IPv4Address | IPv6Address


class AddressRefused(Exception):
    """A call to an address the hub may not reach. Not an OSError on purpose: urllib3 would take
    it for a network failure and requests would report a retryable connection error."""

    def __init__(self, *, host: str, address: Address, address_class: str) -> None:
        self.host = host
        self.address = address
        self.address_class = address_class
        what = (
            f"is a {address_class} address"
            if _is_literal(host)
            else f"resolves to {address}, a {address_class} address"
        )
        super().__init__(
            f"{host} {what}: the hub calls only public addresses, and those in the networks "
            f"{ALLOWED_NETWORKS_SETTING} allows"
        )


def _is_literal(host: str) -> bool:
    try:
        ip_address(host)
    except ValueError:
        return False
    return True


def embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64, 6to4), or None."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_class(address: Address) -> str | None:
    """Why the hub may not call `address` ("loopback", "private", ...); None for a public address."""
    if isinstance(address, IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            return address_class(inner)
        if address in _NAT64_LOCAL:
            return "private"
    if address.is_unspecified or address in _THIS_NETWORK:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if address in _SHARED:
        return "shared (CGNAT)"
    if any(address in network for network in _PRIVATE):
        return "private"
    if not address.is_global or address.is_reserved:
        return "reserved"
    return None


@cache
def _networks(cidrs: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(cidr) for cidr in cidrs)


def address_allowed(address: Address) -> bool:
    """Whether an operator allowed this address (HUB_OUTBOUND_ALLOWED_NETWORKS), as written or as
    the IPv4 address it carries."""
    candidates = [address]
    if isinstance(address, IPv6Address) and (inner := embedded_ipv4(address)) is not None:
        candidates.append(inner)
    networks = _networks(tuple(settings.HUB_OUTBOUND_ALLOWED_NETWORKS))
    return any(candidate in network for candidate in candidates for network in networks)


def address_check(*, host: str, address: Address) -> None:
    """Raise AddressRefused unless the hub may call `address` (which `host` resolved to)."""
    refused = address_class(address)
    if refused is not None and not address_allowed(address):
        raise AddressRefused(host=host, address=address, address_class=refused)


def _address(sockaddr: tuple[object, ...]) -> Address:
    # A scoped IPv6 address comes back as "fe80::1%eth0".
    return ip_address(str(sockaddr[0]).partition("%")[0])


def addresses_resolve(
    host: str, port: int, *, family: int = socket.AF_UNSPEC
) -> list[tuple[int, tuple[object, ...]]]:
    """Resolve `host` once and check every address it has: (family, socket address) pairs to connect
    to, in the resolver's order. AddressRefused when any of them may not be called (a name that also
    points inside is not trusted for its public addresses); socket.gaierror when it does not resolve."""
    answers = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
    for *_, sockaddr in answers:
        address_check(host=host, address=_address(sockaddr))
    return [(answer_family, sockaddr) for answer_family, _, _, _, sockaddr in answers]


def url_host_port(url: str) -> tuple[str, int] | None:
    """(host, port) of an http(s) URL, the port defaulted by scheme; None for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return parts.hostname, port or (443 if parts.scheme == "https" else 80)


def url_origin(url: str) -> str:
    """scheme://host:port of a URL, the part that says whom a call reaches (the path does not);
    the URL itself when it has none."""
    host_port = url_host_port(url)
    if host_port is None:
        return url
    return f"{urlsplit(url).scheme}://{host_port[0]}:{host_port[1]}"


def url_refusal(url: str, *, timeout: float | None = None) -> AddressRefused | None:
    """Why a call to `url` would be refused now, for forms: by its literal IP, or by the addresses its
    name resolves to within `timeout` (default VALIDATION_RESOLVE_SECONDS). None when allowed, and
    when the name does not resolve (yet): every call is checked again when it is made."""
    host_port = url_host_port(url)
    if host_port is None:
        return None
    host, port = host_port
    outcome: list[AddressRefused | None] = []

    def resolve() -> None:
        try:
            addresses_resolve(host, port)
        except AddressRefused as refused:
            outcome.append(refused)
        except (OSError, UnicodeError):
            pass

    # getaddrinfo has no timeout of its own: a thread lets the form answer in bounded time.
    resolver = threading.Thread(target=resolve, name=f"resolve {host}", daemon=True)
    resolver.start()
    resolver.join(VALIDATION_RESOLVE_SECONDS if timeout is None else timeout)
    return outcome[0] if outcome else None
