"""The contract between the delivery engine and a destination's connector.

A connector is one class in `integrations/<vendor>/connector.py`, registered by dotted path in
`integrations/registry.py`. It is stateless; the engine makes one instance per kind.

    class WootricConnector(BaseConnector):
        kind = "wootric"
        label = "Wootric"
        settings_schema = SettingsSchema(required=("base_url",), defaults={"base_url": "https://api.wootric.com"},
                                         secrets=("client_id", "client_secret"), urls=("base_url",))
        rate_limit_per_second = None

        # Once, at enqueue, in the caller's transaction: stored as Delivery.payload (None: skip).
        def build(self, *, destination, event_type, data):
            return {...}

        # At each attempt (the engine has checked the schema's secrets): return the exchange, or
        # raise ConnectorError.
        def deliver(self, *, destination, payload, idempotency_key, client):
            return client.request("POST", url, json=payload, headers=...)

Errors: `client.request` already raises `ConnectorError` for connection errors, timeouts, 5xx and
429 (retryable, with Retry-After) and other non-2xx (permanent). A connector raises its own
`ConnectorError(permanent=True)` for a payload the vendor can never accept (e.g. no email), and
`permanent=False` for anything worth retrying. Any other exception is treated as retryable and logged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from integrations.egress import url_host_port, url_origin, url_refusal
from integrations.segment.calls import CALL_TYPES

if TYPE_CHECKING:
    from integrations.http import HttpClient, HttpExchange
    from integrations.models import Destination

# What the hub itself emits (besides forwarding Segment calls). A destination subscribes to these
# names; `deliveries_enqueue(event_type=...)` takes one of them or a Segment call type.
HUB_EVENT_TYPES: dict[str, str] = {
    "response.created": "a survey was answered",
    "response.updated": "an answer was changed (e.g. a comment added)",
    "invitation.sent": "a survey invitation was sent",
    "person.unsubscribed": "a person opted out of surveys",
}
# Forwarded to destinations as they are processed (integrations/forwarding.py); "delete" passes an
# erasure on to a vendor that takes one.
SEGMENT_CALL_TYPES: tuple[str, ...] = CALL_TYPES
# The event type of "send test" in the admin; never enqueued.
TEST_EVENT_TYPE = "hub.test"
# Alerts (actions/services/alerts.py) name their destinations themselves: not subscription choices.
# Data shapes in docs/operations.md ("Alerts"); the kinds that take them are ALERT_KINDS.
ALERT_FIRED = "alert.fired"
ALERT_DIGEST = "alert.digest"
ALERT_KINDS: tuple[str, ...] = ("slack", "staff_email", "webhook")


def digest_title(digest: Mapping[str, Any]) -> str:
    """ "2 answers for rule Detractors (daily digest)": a digest's first line."""
    count = len(digest.get("alerts") or [])
    rule = (digest.get("rule") or {}).get("name", "")
    return f"{count} answer{'' if count == 1 else 's'} for rule {rule} ({digest.get('period', '')} digest)"


def alert_title(alert: Mapping[str, Any]) -> str:
    """ "Detractor 3/10 on Onboarding NPS (rule: Enterprise detractors)": an alert's first line."""
    response = alert.get("response") or {}
    band = str(response.get("band", "")).capitalize()
    rule = (alert.get("rule") or {}).get("name", "")
    return f"{band} {response.get('rating')}/10 on {response.get('survey')} (rule: {rule})"


def event_type_choices() -> list[tuple[str, str]]:
    """Choices for a destination's subscriptions: hub events, then Segment call types."""
    hub = [(name, f"{name}: {text}") for name, text in HUB_EVENT_TYPES.items()]
    return hub + [(name, f"{name} (Segment call)") for name in SEGMENT_CALL_TYPES]


class ConnectorError(Exception):
    """An attempt did not deliver. `permanent` errors fail the delivery at once (e.g. a 400); the
    others are retried with backoff until the destination's maximum age, then the delivery is dead.

    `retry_after` (seconds) is the earliest time the remote wants to be called again (429/503
    Retry-After); `exchange` is the HTTP request and response, when there was one, for the admin.
    """

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
        exchange: HttpExchange | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.status = status
        self.retry_after = retry_after
        self.exchange = exchange


class Problem(str):
    """A configuration problem as staff read it, "settings: 'url' must start with https://", that
    also knows which part of the destination it is about (`field`: "settings" or "secrets"), so the
    admin and the API show it beside that field. A plain string is about the destination as a whole."""

    field: str
    key: str | None  # the setting or secret it is about, e.g. "url" (the admin's box for it)

    def __new__(cls, field: str, message: str, *, key: str | None = None) -> Problem:
        problem = super().__new__(cls, f"{field}: {message}")
        problem.field = field
        problem.key = key
        return problem


def problem_field(problem: str) -> str | None:
    """The field a problem is about ("settings", "secrets"), or None for the destination as a whole."""
    return problem.field if isinstance(problem, Problem) else None


def problem_key(problem: str) -> str | None:
    """The one setting or secret a problem is about ("url"), or None."""
    return problem.key if isinstance(problem, Problem) else None


@dataclass(frozen=True)
class SettingsSchema:
    """What a destination (or a collector, integrations/inbound.py) of this kind takes: required
    settings keys, defaults, required and optional secrets (e.g. one of two ways to log in), which
    settings are URLs the connector calls (with the secrets attached), and a line of help per setting
    and secret. The settings it names are all it takes: another key is refused (a typo would
    otherwise be ignored silently). The admin builds each destination kind's form from it
    (integrations/admin/destination_form.py)."""

    required: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()
    help: Mapping[str, str] = field(default_factory=dict)
    urls: tuple[str, ...] = ()
    optional_secrets: tuple[str, ...] = ()

    @property
    def secret_names(self) -> tuple[str, ...]:
        """Every secret a destination or collector of this kind may hold, required ones first."""
        return self.secrets + self.optional_secrets

    def settings_with_defaults(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.defaults, **settings}

    def setting_keys(self) -> list[str]:
        """Every setting this kind takes, required ones first."""
        secrets = set(self.secret_names)
        keys = [*self.required, *self.defaults, *self.urls, *self.help]
        return [key for key in dict.fromkeys(keys) if key not in secrets]

    def unknown_secrets(self, entered: Mapping[str, str | None]) -> list[Problem]:
        """Secrets entered (not removed) under a name this kind does not take."""
        known = set(self.secret_names)
        return [
            Problem("secrets", f"'{key}' is not a secret of this kind (it takes: {_listed(known)}).", key=key)
            for key, value in entered.items()
            if value is not None and key not in known
        ]

    def errors(self, *, settings: Mapping[str, Any], secret_keys: set[str]) -> list[str]:
        """What is missing or unusable, in words for the admin and the API; empty when the destination
        is usable. URL settings must be http(s) and may not point at an address the hub refuses to
        call (integrations/egress.py), judged by the addresses their host resolves to now."""
        merged = self.settings_with_defaults(settings)
        known = self.setting_keys()
        problems: list[str] = [
            Problem(
                "settings", f"'{key}' is not a setting of this kind (it takes: {_listed(known)}).", key=key
            )
            for key in settings
            if key not in known
        ]
        problems += [
            Problem("settings", f"'{key}' is required.", key=key)
            for key in self.required
            if merged.get(key) in (None, "")
        ]
        problems += [
            Problem("secrets", f"'{key}' is required.", key=key) for key in self.secrets_missing(secret_keys)
        ]
        for key in self.urls:
            url = merged.get(key)
            if url in (None, ""):
                continue
            if not isinstance(url, str) or url_host_port(url) is None:
                problems.append(
                    Problem("settings", f"'{key}' must start with https:// (or http://).", key=key)
                )
            elif refused := url_refusal(url):
                problems.append(Problem("settings", f"'{key}': {refused}.", key=key))
        return problems

    def secrets_missing(self, secret_keys: Iterable[str]) -> list[str]:
        """The required secrets not among `secret_keys`, in the schema's order."""
        present = set(secret_keys)
        return [key for key in self.secrets if key not in present]

    def secrets_check(self, secrets: Mapping[str, str]) -> None:
        """Before every call (the engine does it, so a connector can read its secrets as given):
        a permanent ConnectorError naming the first required secret the destination lacks, e.g. one
        dropped when its host changed (`Destination.save`)."""
        missing = self.secrets_missing(key for key, value in secrets.items() if value)
        if missing:
            raise ConnectorError(f"The destination has no {missing[0]}.", permanent=True)

    def origins(self, settings: Mapping[str, Any]) -> frozenset[str]:
        """The scheme://host:port of every URL setting: whom the destination's calls (and secrets) reach."""
        merged = self.settings_with_defaults(settings)
        return frozenset(
            url_origin(url) for key in self.urls if isinstance(url := merged.get(key), str) and url
        )


def _listed(keys: Iterable[str]) -> str:
    return ", ".join(sorted(keys)) or "none"


class Connector(Protocol):
    """What the engine calls. Subclass `BaseConnector` to get the defaults."""

    kind: ClassVar[str]
    label: ClassVar[str]
    settings_schema: ClassVar[SettingsSchema]
    # Calls per second the vendor allows, across all workers (e.g. Hello Customer: 1). A destination's
    # own rate_limit_per_second overrides it.
    rate_limit_per_second: ClassVar[float | None]

    def validate(self, *, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]: ...

    def build(self, *, destination: Destination, event_type: str, data: Mapping[str, Any]) -> Any | None: ...

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange: ...


class BaseConnector:
    """Defaults for connectors: validation by the schema, and `build` passing the data through."""

    kind: ClassVar[str] = ""
    label: ClassVar[str] = ""
    settings_schema: ClassVar[SettingsSchema] = SettingsSchema()
    rate_limit_per_second: ClassVar[float | None] = None

    def validate(self, *, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        """Problems with a destination's configuration; override to check formats too (call super)."""
        return self.settings_schema.errors(settings=settings, secret_keys=set(secrets))

    def build(self, *, destination: Destination, event_type: str, data: Mapping[str, Any]) -> Any | None:
        """The payload to store for one event (JSON-serialisable), or None to skip this destination.

        Runs once, when the event is enqueued; every attempt and replay sends the same payload.
        Raise ConnectorError(permanent=True) when the event cannot be sent (the delivery is recorded
        as failed with the reason). Mapping traits: `integrations.mappings.mapping_apply` with
        `mapping_compile_cached(destination.mapping_set)`.
        """
        return {"type": event_type, "data": dict(data)}

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange:
        """Send one payload; return the exchange on success, raise ConnectorError otherwise.

        May be called more than once with the same idempotency key (a retry, a replay, or a worker
        killed mid-call): pass the key on to the vendor whenever its API takes one. The engine calls
        it only for a destination that has every secret `settings_schema.secrets` names.
        """
        raise NotImplementedError
