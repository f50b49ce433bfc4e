"""The one place the hub makes outbound HTTP calls: timeouts, User-Agent, TLS verification, and
the translation of every outcome into an `HttpExchange` or a `ConnectorError`.

No retries happen here: a failed call raises, and the delivery engine schedules the next attempt
in the database (integrations/delivery_loop.py), so a retry survives a worker restart.

    client = HttpClient(timeout=5, secrets=["sk_live_..."])
    exchange = client.request("POST", url, json=payload, headers={"Authorization": "Bearer ..."})

What a retry is for: connection errors, timeouts, 5xx, 408, 425 and 429 (with Retry-After). Any other
non-2xx (including redirects, which are not followed) is permanent.

Only public addresses are called (integrations/egress.py; an operator may allow more networks with
HUB_OUTBOUND_ALLOWED_NETWORKS). The check sits where the connection is made: the session's
adapter makes urllib3 use `_GuardedHTTPConnection` / `_GuardedHTTPSConnection`, whose `_new_conn`
resolves the host name once, checks every address it got, and opens the socket to one of those
addresses itself. There is no second lookup between the check and the connection, so a name that
answers a public address to the check and 127.0.0.1 a moment later (DNS rebinding) gains nothing.
Everything above the socket is urllib3's as usual: the connection object still carries the host
*name*, so TLS sends it as SNI and verifies the certificate against it, and the Host header is the
name. Proxies are never used (a proxy would connect to a host we did not check), and redirects are
not followed. A refused address raises a permanent ConnectorError naming the address class.
"""

from __future__ import annotations

import socket
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    LocationParseError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.util.connection import allowed_gai_family
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from integrations.base import ConnectorError
from integrations.egress import AddressRefused, addresses_resolve

# Stored and shown bodies are cut to these many characters.
REQUEST_BODY_LIMIT = 16_384
RESPONSE_BODY_LIMIT = 4_096
# Read at most this much of a response: we only keep an excerpt.
RESPONSE_READ_LIMIT = 65_536
RETRYABLE_STATUSES = frozenset({408, 425, 429})
# Headers whose whole value is a credential: never stored or shown.
SENSITIVE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "x-auth-token"}
)
MASK = "••••••"


@cache
def user_agent() -> str:
    """FeedbackHub/<version from pyproject.toml>."""
    try:
        with (Path(__file__).resolve().parent.parent / "pyproject.toml").open("rb") as file:
            version = tomllib.load(file)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        version = "0"
    return f"FeedbackHub/{version}"


@dataclass
class HttpExchange:
    """One request and what came back (status None: no response, see `error`). Secrets are masked."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str = ""
    elapsed_ms: int = 0
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """One line for logs and lists: 'POST https://... -> 503' or '... -> timed out after 5 s'."""
        return f"{self.method} {self.url} -> {self.status if self.status is not None else self.error}"


def retry_after_seconds(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds from now: '120' or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class _Masker:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is masked whole.
        self.secrets = sorted(
            {s for s in secrets if isinstance(s, str) and len(s) >= 4}, key=len, reverse=True
        )

    def text(self, value: str) -> str:
        for secret in self.secrets:
            value = value.replace(secret, MASK)
        return value

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: MASK if name.lower() in SENSITIVE_HEADERS else self.text(str(value))
            for name, value in headers.items()
        }


def _decode(body: bytes | None, limit: int) -> str:
    if not body:
        return ""
    text = body[:limit].decode("utf-8", errors="replace")
    return text + ("…" if len(body) > limit else "")


def _connect_checked(connection: HTTPConnection) -> socket.socket:
    """The socket of a new urllib3 connection, opened to an address of its host that passed the
    check: urllib3's own `create_connection`, with the resolution replaced by `addresses_resolve`."""
    try:
        addresses = addresses_resolve(connection._dns_host, connection.port, family=allowed_gai_family())
    except socket.gaierror as exc:
        raise NameResolutionError(connection.host, connection, exc) from exc
    except UnicodeError:
        raise LocationParseError(f"'{connection.host}', label empty or too long") from None
    error: OSError | None = None
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            for option in connection.socket_options or ():
                sock.setsockopt(*option)
            if connection.timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(connection.timeout)
            if connection.source_address:
                sock.bind(connection.source_address)
            sock.connect(address)
            return sock
        except OSError as exc:  # a timeout too: the next address may answer
            sock.close()
            error = exc
    if isinstance(error, TimeoutError):
        message = f"Connection to {connection.host} timed out. (connect timeout={connection.timeout})"
        raise ConnectTimeoutError(connection, message) from error
    raise NewConnectionError(connection, f"Failed to establish a new connection: {error}") from error


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _connect_checked(self)


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _connect_checked(self)


class _GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedAdapter(HTTPAdapter):
    """requests' adapter with urllib3 pools of guarded connections, and no proxies."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _GuardedHTTPConnectionPool,
            "https": _GuardedHTTPSConnectionPool,
        }

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies={})


class HttpClient:
    """A requests session with the hub's defaults. One per attempt (or per loop), not shared across threads.

    `timeout` bounds connecting and each read, and reading the response as a whole; `secrets` are
    masked wherever they appear in the recorded exchange (URL, headers, body).
    """

    def __init__(self, *, timeout: float, secrets: Iterable[str] = ()) -> None:
        self.timeout = timeout
        self.masker = _Masker(secrets)
        self.session = requests.Session()
        self.session.verify = True
        for scheme in ("http://", "https://"):
            self.session.mount(scheme, _GuardedAdapter())
        self.session.headers["User-Agent"] = user_agent()

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        body: bytes | None = None,
        raise_for_status: bool = True,
    ) -> HttpExchange:
        """Send one request. Returns the exchange for a 2xx (any status with raise_for_status=False);
        raises ConnectorError, carrying the exchange, for everything else."""
        headers = dict(headers or {})
        if json is not None:
            body = orjson.dumps(json)
            headers.setdefault("Content-Type", "application/json")
        sent_headers = {**self.session.headers, **headers}
        exchange = HttpExchange(
            method=method.upper(),
            url=self.masker.text(url),
            request_headers=self.masker.headers({k: str(v) for k, v in sent_headers.items()}),
            request_body=self.masker.text(_decode(body, REQUEST_BODY_LIMIT)),
        )
        started = time.monotonic()
        try:
            with self.session.request(
                method,
                url,
                headers=headers,
                data=body,
                timeout=(self.timeout, self.timeout),
                allow_redirects=False,
                stream=True,
            ) as response:
                content = self._read(response, deadline=started + self.timeout)
                exchange.status = response.status_code
                exchange.response_headers = self.masker.headers(dict(response.headers))
                exchange.response_body = self.masker.text(_decode(content, RESPONSE_BODY_LIMIT))
        except AddressRefused as exc:
            exchange.error = str(exc)
            raise self._error(exchange, exc, permanent=True) from exc
        except requests.Timeout as exc:
            exchange.error = f"timed out after {self.timeout:g} s"
            raise self._error(exchange, exc) from exc
        except requests.ConnectionError as exc:
            exchange.error = f"connection failed: {_reason(exc)}"
            raise self._error(exchange, exc) from exc
        except requests.RequestException as exc:
            # An invalid URL or the like: retrying cannot help.
            exchange.error = f"{type(exc).__name__}: {_reason(exc)}"
            raise self._error(exchange, exc, permanent=True) from exc
        finally:
            exchange.elapsed_ms = int((time.monotonic() - started) * 1000)
        if raise_for_status:
            response_raise(exchange)
        return exchange

    def _read(self, response: requests.Response, *, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_content(8192):
            chunks.append(chunk)
            size += len(chunk)
            if size >= RESPONSE_READ_LIMIT:
                break
            if time.monotonic() > deadline:
                raise requests.Timeout("the response took longer than the timeout to read")
        return b"".join(chunks)

    def _error(self, exchange: HttpExchange, exc: Exception, *, permanent: bool = False) -> ConnectorError:
        return ConnectorError(self.masker.text(exchange.error), permanent=permanent, exchange=exchange)


def _reason(exc: Exception) -> str:
    """The innermost cause of a requests error, e.g. '[Errno 111] Connection refused'."""
    while exc.__context__ is not None and isinstance(exc.__context__, Exception):
        exc = exc.__context__
    for arg in getattr(exc, "args", ()):
        if isinstance(arg, Exception):
            exc = arg
    text = str(exc)
    return text if len(text) <= 300 else text[:300] + "…"


def response_raise(exchange: HttpExchange, *, now: datetime | None = None) -> None:
    """Raise the ConnectorError a non-2xx response means: retryable for 5xx/408/425/429, else permanent."""
    status = exchange.status
    if status is None or 200 <= status < 300:
        return
    excerpt = exchange.response_body[:200].strip()
    message = f"HTTP {status}" + (f": {excerpt}" if excerpt else "")
    if 300 <= status < 400:
        location = exchange.response_headers.get("Location", "?")
        message = f"HTTP {status}: redirected to {location}; update the destination's URL"
    headers = {k.lower(): v for k, v in exchange.response_headers.items()}
    retryable = status >= 500 or status in RETRYABLE_STATUSES
    raise ConnectorError(
        message,
        permanent=not retryable,
        status=status,
        retry_after=retry_after_seconds(headers.get("retry-after"), now=now) if retryable else None,
        exchange=exchange,
    )
