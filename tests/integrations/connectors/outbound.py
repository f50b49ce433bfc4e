"""Shared by the outbound connector tests: vendor destinations pointed at a real local HTTP server
(pytest-httpserver), Segment calls from tests/fixtures/segment/ enqueued as forwarding does, and what
each vendor receives from tests/fixtures/<vendor>/."""

from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from integrations.deliveries import deliveries_enqueue
from integrations.mappings import presets_forget
from integrations.models import Delivery, Destination
from tests.conftest import FIXTURES
from tests.integrations.mappings.helpers import presets_load, segment_call
from tests.sources import source_default


@pytest.fixture
def presets(db: None) -> Iterator[None]:
    presets_load()  # an earlier transactional test's flush drops migration data
    presets_forget()
    yield
    presets_forget()


def destination_create(
    kind: str, *, settings: dict[str, Any], secrets: dict[str, str], **fields: Any
) -> Destination:
    destination = Destination(
        source=fields.pop("source", None) or source_default(),
        kind=kind,
        name=fields.pop("name", kind),
        settings=settings,
        call_types=fields.pop("call_types", ["identify"]),
        timeout_seconds=fields.pop("timeout_seconds", 2.0),
        **fields,
    )
    destination.secrets_update(dict(secrets))
    destination.save()
    return destination


def enqueue_call(call: dict[str, Any] | str, key: str | None = None) -> list[Delivery]:
    """Enqueue a Segment call (or the fixture of that name) for every destination subscribed to it."""
    data = segment_call(call) if isinstance(call, str) else call
    return deliveries_enqueue(
        event_type=data["type"],
        data=data,
        idempotency_key=key or f"segment:test:{data.get('messageId', 'm')}",
        source_id=source_default().pk,
    )


def vendor_request(vendor: str, name: str) -> Any:
    """What the vendor receives for a call, as its API documents it: tests/fixtures/<vendor>/<name>.json."""
    return orjson.loads((FIXTURES / vendor / f"{name}.json").read_bytes())
