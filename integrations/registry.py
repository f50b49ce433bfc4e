"""Destination kinds: kind -> dotted path of its connector class, imported only when first used.

Adding a vendor: write `integrations/<vendor>/connector.py` (see integrations/base.py), add one line
here. The admin's and the API's kind choices come from this table.
"""

from functools import cache

from django.utils.module_loading import import_string

from integrations.base import Connector

CONNECTORS: dict[str, str] = {
    "webhook": "integrations.webhook.connector.WebhookConnector",
    "hello_customer": "integrations.hello_customer.connector.HelloCustomerConnector",
    "customersuccessbox": "integrations.customersuccessbox.connector.CustomerSuccessBoxConnector",
    "surveylab": "integrations.surveylab.connector.SurveyLabConnector",
    "wootric": "integrations.wootric.connector.WootricConnector",
    "segment": "integrations.segment.connector.SegmentConnector",
}


class UnknownKind(LookupError):
    pass


@cache
def connector_get(kind: str) -> Connector:
    """The (stateless, shared) connector of a kind."""
    try:
        path = CONNECTORS[kind]
    except KeyError:
        raise UnknownKind(f"No connector for destination kind '{kind}'.") from None
    connector: Connector = import_string(path)()
    return connector


def kind_choices() -> list[tuple[str, str]]:
    return sorted(((kind, connector_get(kind).label) for kind in CONNECTORS), key=lambda c: c[1].lower())
