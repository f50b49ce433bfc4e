"""Helpers for collector and Intercom tests: fixtures by name, signed calls, a collector in one line."""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any
from urllib.parse import urlsplit

from django.test import Client

from integrations.intercom.handler import signature_make
from surveys.models import Collector, Survey
from surveys.services.collector_links import collector_create, collector_links
from tests.conftest import FIXTURES

SECRET = "intercom-client-secret-123"
CaptureOnCommit = Callable[..., AbstractContextManager[Any]]


def fixture_bytes(name: str) -> bytes:
    """tests/fixtures/intercom/<name>.json, byte for byte (signatures are over the raw body)."""
    return (FIXTURES / "intercom" / f"{name}.json").read_bytes()


def collector_make(survey: Survey, **fields: Any) -> Collector:
    return collector_create(survey=survey, name=fields.pop("name", "Intercom: closed chats"), **fields)


def link(collector: Collector, which: str = "api_link") -> str:
    """A collector's link, as a path for the test client."""
    url = urlsplit(collector_links(collector)[which])
    return f"{url.path}?{url.query}"


def intercom_post(
    client: Client,
    collector: Collector,
    body: bytes,
    capture: CaptureOnCommit,
    *,
    secret: str | None = SECRET,
    signature: str | None = None,
) -> Any:
    """POST a notification as Intercom does (signed with `secret`), running what commits enqueue."""
    headers = {"User-Agent": "intercom-parrot-service-client/1.0"}
    if signature is None and secret is not None:
        signature = signature_make(body, secret)
    if signature is not None:
        headers["X-Hub-Signature"] = signature
    with capture(execute=True):
        return client.post(
            link(collector, "webhook_link"), body, content_type="application/json", headers=headers
        )


def fixture_names() -> Iterator[str]:
    return (path.stem for path in sorted((FIXTURES / "intercom").glob("*.json")))
