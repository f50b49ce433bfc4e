"""CustomerSuccessBox: identify calls create or update users, group calls accounts, track calls
record feature usage (the event name is the feature), as CSB's Segment destination does.

    identify -> POST {base_url}/api_js/v1_1/identify  {"type": "user", "account_id", "user_id",
                                                        "traits": {"first_name", "mailing_city", ...}}
    group    -> POST {base_url}/api_js/v1_1/account   {"type": "account", "account_id",
                                                        "traits": {"name", "billing_city", ...}}
    track    -> POST {base_url}/api_js/v1_1/feature   {"type": "feature", "account_id", "user_id",
                                                        "feature_id", "module_id", "product_id",
                                                        "total", "timestamp"}
    Authorization: Bearer {api_key}

Paths, the type field and the ids-plus-traits shape are those of CSB's official client (csb-node);
the field names are those of CSB's HTTP API (features) and of its Segment destination's trait
tables. Other call types are refused (the delivery is recorded as failed).

Mappings: with no attribute mapping on the destination, each call type uses its shipped preset
("CustomerSuccessBox users" for identify, "... accounts" for group, "... feature usage" for track;
edit those to add custom attributes by their API name). A mapping set chosen on the destination
replaces the preset of the call types it lists (or of its target, e.g. customersuccessbox.user);
the other call types keep their preset. `product_id` (setting) is sent when a track call has none.
"""

from collections.abc import Mapping
from typing import Any

from integrations.base import BaseConnector, ConnectorError, SettingsSchema
from integrations.http import HttpClient, HttpExchange
from integrations.mappings import mapping_apply, mapping_choose
from integrations.models import Destination

# Segment call type -> (preset target, CSB type, path, the ids sent outside `traits`)
CALLS: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "identify": ("customersuccessbox.user", "user", "/api_js/v1_1/identify", ("account_id", "user_id")),
    "group": ("customersuccessbox.account", "account", "/api_js/v1_1/account", ("account_id",)),
    "track": ("customersuccessbox.feature", "feature", "/api_js/v1_1/feature", ("account_id", "user_id")),
}
PATHS = {csb_type: path for _, csb_type, path, _ in CALLS.values()}
TARGETS = {call_type: target for call_type, (target, *_) in CALLS.items()}


class CustomerSuccessBoxConnector(BaseConnector):
    kind = "customersuccessbox"
    label = "CustomerSuccessBox (users, accounts, feature usage)"
    settings_schema = SettingsSchema(
        required=("base_url",),
        defaults={"product_id": ""},
        secrets=("api_key",),
        urls=("base_url",),
        help={
            "base_url": "Your CustomerSuccessBox API endpoint, e.g. https://api.customersuccessbox.com.",
            "product_id": "Product sent with feature usage when a track call has no product_id.",
            "api_key": "The 'API key for POST request' (sent as 'Authorization: Bearer <key>').",
        },
    )

    def build(self, *, destination: Destination, event_type: str, data: Mapping[str, Any]) -> Any | None:
        if event_type not in CALLS:
            raise ConnectorError(
                f"CustomerSuccessBox takes identify, group and track calls, not '{event_type}'.",
                permanent=True,
            )
        _, csb_type, _, ids = CALLS[event_type]
        mapping = mapping_choose(destination=destination, call_type=event_type, targets=TARGETS)
        if mapping is None:
            raise ConnectorError(f"No attribute mapping for '{TARGETS[event_type]}'.", permanent=True)
        result = mapping_apply(mapping=mapping, call=data)
        mapped = result.output
        required = (*ids, "feature_id") if csb_type == "feature" else ids
        missing = [name for name in required if mapped.get(name) in (None, "")]
        if missing:
            raise ConnectorError(
                f"CustomerSuccessBox needs {', '.join(missing)}: " + "; ".join(result.problems),
                permanent=True,
            )
        if csb_type == "feature":
            product_id = self.settings_schema.settings_with_defaults(destination.settings)["product_id"]
            if product_id and not mapped.get("product_id"):
                mapped["product_id"] = product_id
            return {"type": csb_type, **mapped}
        traits = {name: value for name, value in mapped.items() if name not in ids}
        return {"type": csb_type, **{name: mapped[name] for name in ids}, "traits": traits}

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange:
        api_key = destination.secret_values()["api_key"]
        url = str(destination.settings.get("base_url", "")).rstrip("/") + PATHS[payload["type"]]
        return client.request("POST", url, json=payload, headers={"Authorization": f"Bearer {api_key}"})
