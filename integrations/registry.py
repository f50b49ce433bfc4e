"""Source and destination kinds: kind -> dotted path of its class, imported only when first used.

Adding an outbound vendor: write `integrations/<vendor>/connector.py` (see integrations/base.py), add
one line to CONNECTORS. Adding an inbound source: write `integrations/<vendor>/handler.py` (see
integrations/inbound.py), add one line to HANDLERS. The admin's and the API's kind choices come from
these tables.
"""

from functools import cache
from typing import cast

from django.utils.module_loading import import_string

from integrations.base import Connector
from integrations.inbound import InboundSource, WebhookHandler

CONNECTORS: dict[str, str] = {
    "webhook": "integrations.webhook.connector.WebhookConnector",
    "hello_customer": "integrations.hello_customer.connector.HelloCustomerConnector",
    "customersuccessbox": "integrations.customersuccessbox.connector.CustomerSuccessBoxConnector",
    "surveylab": "integrations.surveylab.connector.SurveyLabConnector",
    "wootric": "integrations.wootric.connector.WootricConnector",
    "segment": "integrations.segment.connector.SegmentConnector",
    "slack": "integrations.slack.connector.SlackConnector",
    "staff_email": "integrations.staff_email.connector.StaffEmailConnector",
}

HANDLERS: dict[str, str] = {
    "segment": "integrations.segment.handler.SegmentSource",
    "api": "integrations.webhook.handler.GenericCallHandler",
    "intercom": "integrations.intercom.handler.IntercomHandler",
    "zendesk": "integrations.zendesk.handler.ZendeskHandler",
}
# The kind of a collector call whose `source=` names no registered collector kind (api, zapier, none).
GENERIC_CALL = "api"


class UnknownKind(LookupError):
    pass


def _instance(table: dict[str, str], kind: str, what: str) -> object:
    try:
        path = table[kind]
    except KeyError:
        raise UnknownKind(f"No {what} kind '{kind}'.") from None
    return import_string(path)()


@cache
def connector_get(kind: str) -> Connector:
    """The (stateless, shared) connector of a kind."""
    return cast(Connector, _instance(CONNECTORS, kind, "connector for destination"))


def kind_choices() -> list[tuple[str, str]]:
    return sorted(((kind, connector_get(kind).label) for kind in CONNECTORS), key=lambda c: c[1].lower())


@cache
def handler_get(kind: str) -> InboundSource:
    """The (stateless, shared) handler of a source kind."""
    return cast(InboundSource, _instance(HANDLERS, kind, "handler for source"))


def webhook_handler_get(source: str) -> WebhookHandler:
    """The handler of a collector call with `source=<source>`: that kind's when it is a registered
    collector kind, else the generic call's (which records `source` as the caller's name)."""
    kind = source if source in HANDLERS else GENERIC_CALL
    handler = handler_get(kind)
    if handler.endpoint != "collector":
        handler = handler_get(GENERIC_CALL)
    return cast(WebhookHandler, handler)  # every "collector" endpoint's class is a WebhookHandler


def collector_kinds() -> list[str]:
    """The kinds a collector can be of: signed-webhook sources reached through its link."""
    return [kind for kind in HANDLERS if handler_get(kind).endpoint == "collector" and kind != GENERIC_CALL]


def collector_kind_choices() -> list[tuple[str, str]]:
    return [(kind, handler_get(kind).label) for kind in collector_kinds()]
