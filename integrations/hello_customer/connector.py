"""Hello Customer: add the person a Segment call is about as a respondent of a touchpoint (campaign),
which sends them its survey. What Hello Customer's Segment destination function does, natively.

    POST {base_url}/V1.0/{api_language}/Campaign/{touchpoint_unique_id}/Respondent/Add
    Authorization: basic {api_key}
    {"firstName": "Lotte", "lastName": "Claes", "email": "lotte.claes@example.be",
     "custom_UniqueID": "customer-881", "campaign_UniqueID": "<touchpoint GUID>",
     "language_UniqueID": "<GUID of the survey language>", "keyValues": {"team": "Brugge"}}

Which calls send a survey is the destination's subscription: any of the seven call types, and for
track calls optionally only some event names. The body comes from the destination's attribute
mapping, by default the preset "Hello Customer respondents" (fill its language_UniqueID lookup table
with your survey languages' GUIDs; add keyValues.<key> rules for metadata). A call without an email
is recorded as failed. At most 1 call per second (Hello Customer's limit), across all workers.
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from integrations.base import SEGMENT_CALL_TYPES, BaseConnector, ConnectorError, SettingsSchema
from integrations.http import HttpClient, HttpExchange
from integrations.mappings import mapping_apply, mapping_choose
from integrations.models import Destination

PRESET_TARGET = "hellocustomer.respondent"


class HelloCustomerConnector(BaseConnector):
    kind = "hello_customer"
    label = "Hello Customer (survey respondents)"
    settings_schema = SettingsSchema(
        required=("base_url", "touchpoint_unique_id"),
        defaults={
            "base_url": "https://api.hellocustomer.com",
            "api_language": "EN",
            "language_unique_id": "",
        },
        secrets=("api_key",),
        urls=("base_url",),
        help={
            "base_url": "The API's address, default https://api.hellocustomer.com.",
            "touchpoint_unique_id": "The touchpoint (campaign) GUID respondents are added to.",
            "api_language": "The language segment of the API path, default EN.",
            "language_unique_id": "Survey language GUID for people the mapping finds no language for.",
            "api_key": "The API token generated in Hello Customer (sent as 'Authorization: basic <token>').",
        },
    )
    rate_limit_per_second = 1.0

    def build(self, *, destination: Destination, event_type: str, data: Mapping[str, Any]) -> Any | None:
        if event_type not in SEGMENT_CALL_TYPES:
            raise ConnectorError(
                f"Hello Customer takes Segment calls (identify, track, ...), not '{event_type}'.",
                permanent=True,
            )
        settings = self.settings_schema.settings_with_defaults(destination.settings)
        mapping = mapping_choose(
            destination=destination, call_type=event_type, targets={event_type: PRESET_TARGET}
        )
        if mapping is None:
            raise ConnectorError(f"No attribute mapping for '{PRESET_TARGET}'.", permanent=True)
        mapped = mapping_apply(mapping=mapping, call=data).output
        if not mapped.get("email"):
            raise ConnectorError(
                "Hello Customer needs the respondent's email; the call has none.", permanent=True
            )
        body: dict[str, Any] = {**mapped, "campaign_UniqueID": settings["touchpoint_unique_id"]}
        if not body.get("language_UniqueID") and settings.get("language_unique_id"):
            body["language_UniqueID"] = settings["language_unique_id"]
        body.setdefault("keyValues", {})
        return body

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange:
        settings = self.settings_schema.settings_with_defaults(destination.settings)
        api_key = destination.secret_values()["api_key"]
        url = (
            f"{str(settings['base_url']).rstrip('/')}/V1.0/{quote(str(settings['api_language']), safe='')}"
            f"/Campaign/{quote(str(payload['campaign_UniqueID']), safe='')}/Respondent/Add"
        )
        return client.request("POST", url, json=payload, headers={"Authorization": f"basic {api_key}"})
