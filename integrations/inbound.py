"""The contract between a collector and an inbound source kind: the mirror of integrations/base.py.

A source kind is one folder, `integrations/<vendor>/handler.py`, holding one handler class registered
by dotted path in `integrations/registry.py` (`HANDLERS`). The class is stateless and pure: no
database, no network (a lookup that needs the vendor's API goes through its `client.py`, called by
the hub when it decides). Each handler has

- `settings_schema`: the same `SettingsSchema` destinations use. A collector of this kind keeps the
  settings in `Collector.settings` and the secrets in `Collector.secrets` (encrypted JSON, write-only);
- `verify(request=, secret=, now=)`: raises `hub.errors.RequestError` (401) for a call the vendor did
  not sign with `secret`; the hub calls it whenever the collector has the signing secret (and always
  when the schema requires it);
- `parse(request=)`: the call as a `WebhookCall` (message id, topic, what to keep, the contact). Like
  Zulip's webhooks, each topic the hub can act on has a small pure function in a table
  (`TOPIC_CONTACTS`); any other topic parses to `contact=None` and is recorded and ignored;
- fixtures named after the topic under `tests/fixtures/<vendor>/` and a test module naming the kind
  (tests/test_registries.py checks both).

    class ZendeskHandler(BaseHandler):
        kind = "zendesk"
        label = "Zendesk"
        settings_schema = SettingsSchema(secrets=("signing_secret",))
        signing_secret = "signing_secret"
        default_actions = {"ticket.solved": "addContactToCollector"}

        def verify(self, *, request, secret, now): ...
        def parse(self, *, request): return WebhookCall(...)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar, Protocol

from integrations.base import SettingsSchema


@dataclass(frozen=True)
class WebhookRequest:
    """What a handler reads of an HTTP call: headers are case-insensitive (Django's `HttpHeaders`);
    `form` is the parsed form body when the call sent one (else None: read `body`)."""

    method: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    body: bytes
    form: Mapping[str, str] | None = None


@dataclass(frozen=True)
class InboundContact:
    """Whom a call is about. Without `email`, `lookup_id` names whom to look up with the vendor."""

    email: str = ""
    name: str = ""
    language: str = ""
    user_id: str = ""  # the customer's own id (Intercom's external_id, Zendesk's external_id)
    traits: dict[str, Any] = field(default_factory=dict)
    lookup_id: str = ""  # the vendor's id of the contact (Intercom: GET /contacts/{id})


@dataclass(frozen=True)
class NoContact:
    """A call of a handled topic that names no usable customer; `reason` says what was missing."""

    reason: str


@dataclass(frozen=True)
class WebhookCall:
    """One call, read. `contact` is None for a topic the hub cannot read a customer from (recorded,
    ignored). `action` is set when the call names its own action (generic calls); otherwise the
    collector's `topic_actions` map `topic` to one. `ping` calls are acknowledged and recorded."""

    name: str  # as the event log names it, e.g. "intercom conversation.admin.closed"
    message_id: str  # the vendor's id of this call, for dedupe ("": the hub makes one)
    topic: str
    properties: dict[str, Any]  # what the event log keeps (source, ids, the body)
    contact: InboundContact | NoContact | None = None
    action: str = ""
    ping: bool = False


class InboundSource(Protocol):
    """Every source kind: its name, its settings and where its calls arrive: "collector" (a
    collector's link with source=<kind>, handled as a `WebhookHandler`) or "intake" (its own
    endpoints, e.g. Segment's /v1/..., with the write keys of `integrations.models.Source`)."""

    kind: ClassVar[str]
    label: ClassVar[str]
    settings_schema: ClassVar[SettingsSchema]
    endpoint: ClassVar[str]


class WebhookHandler(InboundSource, Protocol):
    """What a collector calls for a source kind reached through its link. Subclass `BaseHandler`."""

    # The secret (a key of settings_schema) that signs calls; "" when the vendor does not sign.
    signing_secret: ClassVar[str]
    # The caller waits for the decision (generic API calls); else the call is acknowledged at once and
    # decided after commit (vendors favour fast 2xx answers), and a call without a contact is a 200.
    decides_inline: ClassVar[bool]
    # Which topic does what on a new collector of this kind, e.g. {"ticket.solved": "addContactToCollector"}.
    default_actions: ClassVar[Mapping[str, str]]
    # How staff read the signature requirement in refusals, e.g. "X-Hub-Signature".
    signature_header: ClassVar[str]
    # The secret `contact_lookup` needs ("" when the kind looks nobody up).
    lookup_secret: ClassVar[str]

    def verify(self, *, request: WebhookRequest, secret: str, now: datetime) -> None: ...

    def parse(self, *, request: WebhookRequest) -> WebhookCall: ...

    def contact_lookup(
        self, *, lookup_id: str, settings: Mapping[str, Any], secrets: Mapping[str, str]
    ) -> tuple[InboundContact, str] | None: ...


class BaseHandler:
    """Defaults: a collector source that does not sign, decides in the background, looks nobody up."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    settings_schema: ClassVar[SettingsSchema] = SettingsSchema()
    endpoint: ClassVar[str] = "collector"
    signing_secret: ClassVar[str] = ""
    decides_inline: ClassVar[bool] = False
    default_actions: ClassVar[Mapping[str, str]] = {}
    signature_header: ClassVar[str] = ""
    lookup_secret: ClassVar[str] = ""

    def verify(self, *, request: WebhookRequest, secret: str, now: datetime) -> None:
        """Raise RequestError(401, ...) unless `request` is signed with `secret`."""
        raise NotImplementedError(f"{self.kind} calls are not signed")

    def parse(self, *, request: WebhookRequest) -> WebhookCall:
        raise NotImplementedError

    def contact_lookup(
        self, *, lookup_id: str, settings: Mapping[str, Any], secrets: Mapping[str, str]
    ) -> tuple[InboundContact, str] | None:
        """The contact the vendor knows by `lookup_id`, with their language; None when this kind has
        no lookup or the collector lacks what it needs. Raises `ConnectorError` (permanent or not)."""
        return None


def text_of(value: object, limit: int = 255) -> str:
    """A field of a vendor's payload as text: strings stripped, numbers written out, anything else ""."""
    if isinstance(value, str):
        return value.strip()[:limit]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)[:limit]
    return ""


def contact_read(
    fields: Mapping[str, Any],
    *,
    language: str,
    user_ids: tuple[str, ...],
    no_email: str,
    traits: dict[str, Any],
) -> InboundContact | NoContact:
    """A contact from a flat object with `email` and `name`, its language and its own id under the
    vendor's keys (the first of `user_ids` that has one); NoContact(`no_email`) without an email."""
    email = text_of(fields.get("email"), 254)
    if not email:
        return NoContact(no_email)
    return InboundContact(
        email=email,
        name=text_of(fields.get("name"), 400),
        language=text_of(fields.get(language), 35),
        user_id=next((found for key in user_ids if (found := text_of(fields.get(key)))), ""),
        traits=traits,
    )
