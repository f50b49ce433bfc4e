"""Throttling: who the client is, and how many requests it may make (django-ratelimit's counters).

Counters live in Django's default cache, which hub/settings.py makes shared between web processes
(Redis in production, files under var/ in embedded mode), so a limit holds however many processes
serve the hub. Windows are fixed (django-ratelimit staggers their edges per key); a client over its
limit is told when its window ends (Retry-After).
"""

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django_ratelimit.core import get_usage

from hub.api import error_response

logger = logging.getLogger(__name__)

# Clients of one IPv6 network usually share a /64: counting per address would let one client rotate.
IPV6_NETWORK = 64


def client_address(request: HttpRequest) -> str:
    """The client's IP address: REMOTE_ADDR, or the last entry of the header a trusted proxy sets
    (HUB_CLIENT_ADDRESS_HEADER; earlier entries are what the client claimed, and can be forged).

    Also the client address of the admin's login lockout (django-axes' AXES_CLIENT_IP_CALLABLE).
    """
    header = settings.HUB_CLIENT_ADDRESS_META_KEY
    if header:
        claimed = str(request.META.get(header, "")).rsplit(",", 1)[-1].strip()
        if _address(claimed) is not None:
            return claimed
    return str(request.META.get("REMOTE_ADDR") or "")


def client_network(request: HttpRequest) -> str:
    """What a per-client limit counts by: the IPv4 address, or the IPv6 /64 it is in."""
    address = _address(client_address(request))
    if address is None:
        return "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_NETWORK}", strict=False).network_address)
    return str(address)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def rate_exceeded(request: HttpRequest, *, scope: str, rate: str, key: str) -> int | None:
    """Count this request against `rate` ("60/m") for `key` within `scope`; the seconds until the
    window ends when it is over the limit, else None. An empty rate counts nothing."""
    if not rate:
        return None
    try:
        usage = get_usage(request, group=scope, key=lambda _group, _request: key, rate=rate, increment=True)
    except Exception:  # the cache is down: serve rather than refuse everyone (Redis raises its own errors)
        logger.warning("rate limit of %s not checked: the cache is unavailable", scope, exc_info=True)
        return None
    if usage is None or not usage["should_limit"]:
        return None
    logger.warning("rate limit of %s (%s) reached: answered 429", scope, rate)
    return max(1, int(usage["time_left"]))


def too_many_requests(wait: int, message: str) -> JsonResponse:
    """The JSON 429: {"code": "rate_limited", "message"}, with Retry-After in seconds."""
    response = error_response(429, "rate_limited", f"{message} Retry after {wait} seconds.")
    response["Retry-After"] = str(wait)
    return response
