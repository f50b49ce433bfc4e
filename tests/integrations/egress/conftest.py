"""A stand-in for DNS and the wire, so that tests can give made-up names the addresses an attacker
would (a public one, then 127.0.0.1) and see where sockets really connect."""

import socket
import time
from typing import Any

import pytest

PUBLIC_IP = "93.184.216.34"  # globally routable; never reached: `forward` sends it to a local server


class Network:
    """`answers(name, [...], then=[...])`: what lookups of `name` return, the first lookup `first`,
    every later one `then` (DNS rebinding). `lookups` lists the names looked up, `connects` every
    (address, port) a socket connected to. `forward(ip)` makes connections to `ip` reach 127.0.0.1
    on the same port (a local test server stands in for a public host); `slow(name, s)` makes
    lookups of `name` take that long."""

    def __init__(self) -> None:
        self._answers: dict[str, tuple[list[str], list[str]]] = {}
        self._slow: dict[str, float] = {}
        self._forward: set[str] = set()
        self.lookups: list[str] = []
        self.connects: list[tuple[str, int]] = []

    def answers(self, name: str, first: list[str], *, then: list[str] | None = None) -> None:
        self._answers[name] = (first, first if then is None else then)

    def forward(self, address: str) -> None:
        self._forward.add(address)

    def slow(self, name: str, seconds: float) -> None:
        self._slow[name] = seconds

    def connects_to(self, port: int) -> list[str]:
        return [address for address, to_port in self.connects if to_port == port]

    def getaddrinfo(self, real: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host in self._slow:
            time.sleep(self._slow[host])
        if host not in self._answers:
            return list(real(host, port, *args, **kwargs))
        first, then = self._answers[host]
        addresses = then if host in self.lookups else first
        self.lookups.append(host)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))
            for address in addresses
        ]

    def connect(self, real: Any, sock: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple):
            self.connects.append((str(address[0]), int(address[1])))
            if address[0] in self._forward:
                address = ("127.0.0.1", address[1])
        return real(sock, address)


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    fake = Network()
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **kw: fake.getaddrinfo(real_getaddrinfo, *a, **kw))
    monkeypatch.setattr(socket.socket, "connect", lambda sock, to: fake.connect(real_connect, sock, to))
    return fake


@pytest.fixture
def nothing_allowed(settings: Any) -> None:
    """Production's default: no network besides public addresses is allowed."""
    settings.HUB_OUTBOUND_ALLOWED_NETWORKS = []
