"""Segment as a destination: the daily NPS sync-back, the Callexa model (a third party sending
`identify` calls into the customer's own Segment source with that source's write key).

The destination's source is the hub source whose people's answers are synced. Settings: `api_host`
(default https://api.segment.io; the EU host https://events.eu1.segmentapis.com, or any
Segment-compatible endpoint such as another Feedback Hub). Secret: `write_key` of the Segment source
to write into.

Each delivery is one `/v1/batch` body: the NPS sync-back (surveys/services/sync_back.py) enqueues
its batches with the event type `sync_back.batch`, data `{"batch": [...]}`, and the connector sends
them as they are:

    POST {api_host}/v1/batch    Authorization: Basic base64("<write key>:")
    {"batch": [{"type": "identify", "userId": "u-42", "traits": {"NPS_rating": 9, ...},
                "timestamp": "...", "messageId": "fh-...", "context": {"library": {...}}}]}

No `sentAt`: the payload is built once and resent as is on retries, and a stale sentAt would make
Segment "correct" the timestamps by the retry's delay. The write key travels only in the header,
never in the stored payload. Segment dedupes on the messageIds; the Segment API takes no other key.
"""

import base64
from collections.abc import Mapping
from typing import Any

import orjson

from integrations.base import TEST_EVENT_TYPE, BaseConnector, ConnectorError, SettingsSchema
from integrations.http import HttpClient, HttpExchange
from integrations.models import Destination

DEFAULT_API_HOST = "https://api.segment.io"
BATCH_EVENT_TYPE = "sync_back.batch"  # Delivery.event_type of a batch; data: {"batch": [identify, ...]}


def batch_url(api_host: str) -> str:
    """`{api_host}/v1/batch`, as analytics-python builds it (a path prefix in the host is kept)."""
    return api_host.rstrip("/") + "/v1/batch"


def basic_auth(write_key: str) -> str:
    """Segment's Basic auth: the write key as user name, an empty password (note the colon)."""
    return "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()


class SegmentConnector(BaseConnector):
    kind = "segment"
    label = "Segment (daily NPS sync-back)"
    settings_schema = SettingsSchema(
        required=("api_host",),
        defaults={"api_host": DEFAULT_API_HOST},
        secrets=("write_key",),
        urls=("api_host",),
        help={
            "api_host": "Segment's API host; EU: https://events.eu1.segmentapis.com; or another hub's URL.",
            "write_key": "The write key of the Segment source that receives the identify calls.",
        },
    )

    def build(self, *, destination: Destination, event_type: str, data: Mapping[str, Any]) -> Any | None:
        # Answers go out in the sync-back's batches, not one call per hub event (those are skipped).
        # The admin's "send test" posts an empty batch: it checks the host and the write key and
        # changes nobody.
        if event_type == TEST_EVENT_TYPE:
            return {"batch": []}
        if event_type != BATCH_EVENT_TYPE:
            return None
        events = data.get("batch")
        if not isinstance(events, list):
            raise ConnectorError('The data is not a Segment batch ({"batch": [...]}).', permanent=True)
        return {"batch": events}

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange:
        settings = self.settings_schema.settings_with_defaults(destination.settings)
        write_key = destination.secret_values()["write_key"]
        if not isinstance(payload, dict) or not isinstance(payload.get("batch"), list):
            raise ConnectorError('The payload is not a Segment batch ({"batch": [...]}).', permanent=True)
        headers = {"Content-Type": "application/json", "Authorization": basic_auth(write_key)}
        return client.request(
            "POST", batch_url(settings["api_host"]), headers=headers, body=orjson.dumps(payload)
        )
