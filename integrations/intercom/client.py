"""Intercom's REST API, outbound: looking up a contact's email when a notification carries none.

All HTTP goes through integrations/http.py (timeouts, masked secrets, permanent vs retryable errors).
"""

from typing import Any

import orjson
import requests
from django.conf import settings

from integrations.base import ConnectorError
from integrations.http import HttpClient
from integrations.intercom.handler import IntercomContact

DEFAULT_API_BASE = "https://api.intercom.io"
API_VERSION = "2.11"
TIMEOUT_SECONDS = 5.0


class _ContentKeepingClient(HttpClient):
    """The hub's client, keeping the whole body it read: the exchange keeps only an excerpt (4 KB),
    and a contact with many custom attributes is larger than that."""

    content = b""

    def _read(self, response: requests.Response, *, deadline: float) -> bytes:
        self.content = super()._read(response, deadline=deadline)
        return self.content


def api_base() -> str:
    return str(getattr(settings, "INTERCOM_API_BASE", DEFAULT_API_BASE)).rstrip("/")


def contact_fetch(*, contact_id: str, access_token: str) -> tuple[IntercomContact, str]:
    """GET {INTERCOM_API_BASE}/contacts/{id}: the contact and their language ("" when unknown).

    Raises ConnectorError: permanent for 4xx (unknown contact, bad token), retryable for 5xx,
    429 and network trouble.
    """
    if not contact_id or "/" in contact_id:
        raise ConnectorError(f"not an Intercom contact id: {contact_id!r}", permanent=True)
    client = _ContentKeepingClient(timeout=TIMEOUT_SECONDS, secrets=[access_token])
    try:
        client.request(
            "GET",
            f"{api_base()}/contacts/{contact_id}",
            headers={
                "Authorization": f"Bearer {access_token}",
                "Accept": "application/json",
                "Intercom-Version": API_VERSION,
            },
        )
    finally:
        client.close()
    try:
        data: Any = orjson.loads(client.content)
    except orjson.JSONDecodeError as exc:
        raise ConnectorError("Intercom answered with something that is not JSON", permanent=False) from exc
    if not isinstance(data, dict):
        raise ConnectorError("Intercom answered with something that is not a contact", permanent=True)

    def text(key: str) -> str:
        value = data.get(key)
        return value.strip() if isinstance(value, str) else ""

    contact = IntercomContact(
        email=text("email"), name=text("name"), external_id=text("external_id"), intercom_id=contact_id
    )
    return contact, text("language_override") or text("browser_language")
