"""Wootric (InMoment): identify calls create or update end users; optionally, the hub's own answers
become Wootric responses. Requests as RudderStack's Wootric destination makes them:

    token     POST {base_url}/oauth/token?account_token=NPS-...  grant_type=password&username=..&password=..
              (or grant_type=client_credentials&client_id=..&client_secret=..), cached per destination
    identify  GET  /v1/end_users/{userId}?lookup_by_external_id=true
              404  -> POST /v1/end_users       email, external_id, external_created_at, language,
                                               phone_number, properties[<trait>]
              else -> PUT  /v1/end_users/{id}  the same without external_id; properties merged over theirs
    response.created / response.updated (setting forward_responses)
              the same lookup (create when absent), then POST /v1/end_users/{id}/responses
              score, text, origin_url, ip_address, created_at

Bodies are application/x-www-form-urlencoded, times unix seconds. Identify fields come from the
destination's attribute mapping, else the preset "Wootric end users" (target wootric.end_user):
`created_at` there (rounded to the nearest second, as Segment's Wootric integration does) is sent as
`external_created_at`. Every other trait becomes a property, as text (objects as JSON, not
"[object Object]"). Anonymous identify calls (no userId) are skipped: Wootric finds end users by
external id. Other event types are refused (the delivery is recorded as failed).

Tokens: kept in Django's cache for 100 minutes (they last about 2 hours), keyed by destination and
its last save, so changed credentials take a new one. With the default local-memory cache each worker
process fetches its own token; a shared cache (Redis) shares it. A 401 from the API fetches a new
token and repeats the call once; a second 401, or a token request refused, fails the delivery.

Wootric takes no idempotency key: a call repeated after a lost answer (a timeout, a worker killed)
may record a response twice. The lookup makes repeated identify calls safe.
"""

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

import orjson
from django.conf import settings as django_settings
from django.core.cache import cache

from integrations.base import TEST_EVENT_TYPE, BaseConnector, ConnectorError, Problem, SettingsSchema
from integrations.http import MASK, HttpClient, HttpExchange, response_raise
from integrations.mappings import TransformError, mapping_apply, mapping_choose, string, unix_seconds_rounded
from integrations.models import Destination

TARGETS = {"identify": "wootric.end_user"}  # the preset "Wootric end users"
TOKEN_TTL_SECONDS = 100 * 60
FORM = "application/x-www-form-urlencoded"
RESPONSE_EVENTS = ("response.created", "response.updated")
# Traits that are end-user fields or ids, not properties (as Segment's and Rudder's integrations).
NOT_PROPERTIES = frozenset(
    {"email", "phone", "createdAt", "created_at", "created", "language", "id", "userId", "anonymousId"}
)
_ID = re.compile(r'"id"\s*:\s*(\d+)')


def _text(value: Any) -> str | None:
    """A property value as Wootric stores it: text. None for null (nothing to send)."""
    if value is None:
        return None
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    try:
        return string(value, {})
    except TransformError:
        return str(value)


def _form(fields: Mapping[str, Any], properties: Mapping[str, str]) -> bytes:
    pairs = [(name, str(value)) for name, value in fields.items() if value not in (None, "")]
    pairs += [(f"properties[{name}]", value) for name, value in properties.items()]
    return urlencode(pairs).encode()


def _end_user(exchange: HttpExchange) -> tuple[int, dict[str, Any] | None]:
    """The end user's id and properties from a lookup. A body over the stored excerpt's length is not
    JSON any more: its id is then read from the text and its properties are unknown (None)."""
    try:
        user = orjson.loads(exchange.response_body)
    except orjson.JSONDecodeError:
        user = None
    if isinstance(user, dict) and isinstance(user.get("id"), int):
        properties = user.get("properties")
        return user["id"], properties if isinstance(properties, dict) else {}
    match = _ID.search(exchange.response_body)
    if match is None:
        raise ConnectorError(
            f"Wootric's end user has no id: {exchange.response_body[:200]}", permanent=True, exchange=exchange
        )
    return int(match.group(1)), None


class _Api:
    """One delivery's calls: the base URL, the credentials and the bearer token."""

    def __init__(self, *, destination: Destination, base_url: str, client: HttpClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = client
        self.secrets = destination.secret_values()
        # Saving the destination (new credentials, another base URL) moves updated_at: a new token.
        self.cache_key = f"wootric:token:{destination.pk}:{destination.updated_at.timestamp()}"

    def grant(self) -> dict[str, str]:
        if self.secrets.get("client_id") and self.secrets.get("client_secret"):
            return {
                "grant_type": "client_credentials",
                "client_id": self.secrets["client_id"],
                "client_secret": self.secrets["client_secret"],
            }
        if self.secrets.get("username") and self.secrets.get("password"):
            return {
                "grant_type": "password",
                "username": self.secrets["username"],
                "password": self.secrets["password"],
            }
        raise ConnectorError(
            "Wootric needs secrets username and password (or client_id and client_secret).", permanent=True
        )

    def token_fetch(self) -> tuple[str, HttpExchange]:
        """A new access token (cached); the exchange shows it masked."""
        url = f"{self.base_url}/oauth/token"
        if self.secrets.get("account_token"):
            url += "?" + urlencode({"account_token": self.secrets["account_token"]})
        exchange = self.client.request(
            "POST",
            url,
            headers={"Content-Type": FORM},
            body=urlencode(self.grant()).encode(),
            raise_for_status=False,
        )
        if exchange.status in (400, 401, 403):
            raise ConnectorError(
                f"Wootric refused the credentials (HTTP {exchange.status} from /oauth/token): check the "
                "destination's username and password (or client_id and client_secret) and account_token.",
                permanent=True,
                status=exchange.status,
                exchange=exchange,
            )
        response_raise(exchange)
        try:
            answer = orjson.loads(exchange.response_body)
            token = str(answer["access_token"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            raise ConnectorError(
                "Wootric's token answer has no access_token.", exchange=exchange, status=exchange.status
            ) from None
        exchange.response_body = exchange.response_body.replace(token, MASK)
        expires_in = answer.get("expires_in")
        ttl = TOKEN_TTL_SECONDS
        if isinstance(expires_in, int | float) and expires_in > 0:
            ttl = int(min(ttl, expires_in * 0.8))
        cache.set(self.cache_key, token, ttl)
        return token, exchange

    def call(self, method: str, path: str, *, body: bytes | None = None) -> HttpExchange:
        """One API call with the cached token; a 401 takes a new token and repeats the call once.
        Returns the exchange whatever the status (but 401)."""
        token = cache.get(self.cache_key)
        refreshed = False
        if token is None:
            token, _ = self.token_fetch()
            refreshed = True
        while True:
            headers = {"Authorization": f"Bearer {token}"}
            if body is not None:
                headers["Content-Type"] = FORM
            exchange = self.client.request(
                method, self.base_url + path, headers=headers, body=body, raise_for_status=False
            )
            if exchange.status != 401:
                return exchange
            cache.delete(self.cache_key)
            if refreshed:
                raise ConnectorError(
                    f"Wootric refused a new access token (HTTP 401 on {method} {path}): the account may lack "
                    "API access, or the credentials belong to another account.",
                    permanent=True,
                    status=401,
                    exchange=exchange,
                )
            token, _ = self.token_fetch()
            refreshed = True

    def end_user_upsert(self, payload: Mapping[str, Any], *, update: bool) -> tuple[int, HttpExchange]:
        """Find the end user by external id; create it when absent, else update it when `update`."""
        external_id = payload["external_id"]
        fields: dict[str, Any] = payload["fields"]
        properties: dict[str, str] = payload["properties"]
        found = self.call("GET", f"/v1/end_users/{quote(external_id, safe='')}?lookup_by_external_id=true")
        if found.status == 404:
            if not (fields.get("email") or fields.get("phone_number")):
                raise ConnectorError(
                    f"Wootric has no end user '{external_id}' and creates one only with an email or phone.",
                    permanent=True,
                    exchange=found,
                )
            created = self.call(
                "POST", "/v1/end_users", body=_form({**fields, "external_id": external_id}, properties)
            )
            response_raise(created)
            return _end_user(created)[0], created
        response_raise(found)
        user_id, current = _end_user(found)
        if not update:
            return user_id, found
        updated = self.call(
            "PUT", f"/v1/end_users/{user_id}", body=_form(fields, {**(current or {}), **properties})
        )
        response_raise(updated)
        return user_id, updated


class WootricConnector(BaseConnector):
    kind = "wootric"
    label = "Wootric (end users, responses)"
    settings_schema = SettingsSchema(
        required=("base_url",),
        defaults={
            "base_url": "https://api.wootric.com",
            "forward_responses": False,
            "origin_url": "",
            "ip_address": "0.0.0.0",  # noqa: S104 - an IP address sent as data, not a bind address
        },
        urls=("base_url",),
        optional_secrets=("account_token", "username", "password", "client_id", "client_secret"),
        help={
            "base_url": "Wootric's API: https://api.wootric.com, or https://api.eu.wootric.com (EU) or "
            "https://api.au.wootric.com (Australia) for accounts hosted there.",
            "forward_responses": "true: the hub's answers (response.created/updated) are recorded as Wootric "
            "responses; subscribe to response.created only to send each answer once, without later comments.",
            "origin_url": "The page Wootric shows as where the answer was given; empty: the hub's address.",
            "ip_address": "Wootric requires the respondent's IP; the hub keeps none, so this stands in.",
            "account_token": "Your account token, NPS-xxxxxxxx (Settings > Your account).",
            "username": "The email you log in to Wootric with (with password).",
            "password": "Its password.",
            "client_id": "Or an API client's id (with client_secret) instead of username and password.",
            "client_secret": "That API client's secret.",
        },
    )

    def validate(self, *, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        problems = super().validate(settings=settings, secrets=secrets)
        merged = self.settings_schema.settings_with_defaults(settings)
        if not isinstance(merged.get("forward_responses"), bool):
            problems.append(
                Problem("settings", "'forward_responses' is true or false.", key="forward_responses")
            )
        pairs = (("username", "password"), ("client_id", "client_secret"))
        if not any(secrets.get(a) and secrets.get(b) for a, b in pairs):
            problems.append(
                Problem(
                    "secrets", "'username' and 'password' (or 'client_id' and 'client_secret') are required."
                )
            )
        return problems

    def build(self, *, destination: Destination, event_type: str, data: Mapping[str, Any]) -> Any | None:
        settings = self.settings_schema.settings_with_defaults(destination.settings)
        if event_type == TEST_EVENT_TYPE:
            return {"op": "token"}
        if event_type == "identify":
            return self._identify(destination, data)
        if event_type in RESPONSE_EVENTS:
            return self._response(settings, data) if settings["forward_responses"] is True else None
        raise ConnectorError(
            f"Wootric takes identify calls and, with forward_responses, response events; not '{event_type}'.",
            permanent=True,
        )

    def _identify(self, destination: Destination, call: Mapping[str, Any]) -> dict[str, Any] | None:
        user_id = call.get("userId")
        if not isinstance(user_id, str) or not user_id:
            return None  # anonymous: Wootric finds end users by external id only
        mapping = mapping_choose(destination=destination, call_type="identify", targets=TARGETS)
        if mapping is None:
            raise ConnectorError(
                "No attribute mapping: choose one for the destination (the preset 'Wootric end users' "
                "was deleted).",
                permanent=True,
            )
        mapped = mapping_apply(mapping=mapping, call=call).output
        traits = call.get("traits")
        traits = traits if isinstance(traits, dict) else {}
        fields = {
            "email": mapped.get("email"),
            "external_created_at": mapped.get("external_created_at", mapped.get("created_at")),
            "language": mapped.get("language"),
            "phone_number": mapped.get("phone_number", _text(traits.get("phone"))),
        }
        properties = {
            str(name): text
            for name, value in traits.items()
            if name not in NOT_PROPERTIES and (text := _text(value)) is not None
        }
        return {"op": "end_user", "external_id": user_id, "fields": fields, "properties": properties}

    def _response(self, settings: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
        person = data.get("person") or {}
        if not person.get("user_id"):
            raise ConnectorError(
                "The person has no userId: Wootric finds end users by external id.", permanent=True
            )
        return {
            "op": "response",
            "external_id": person["user_id"],
            "fields": {"email": person.get("email")},
            "properties": {},
            "response": {
                "score": data["rating"],
                "text": data.get("comment") or None,
                "origin_url": settings["origin_url"] or django_settings.HUB_BASE_URL,
                "ip_address": settings["ip_address"],
                "created_at": unix_seconds_rounded(data["answered_at"], {}),
            },
        }

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange:
        settings = self.settings_schema.settings_with_defaults(destination.settings)
        api = _Api(destination=destination, base_url=settings["base_url"], client=client)
        op = payload.get("op")
        if op == "token":
            return api.token_fetch()[1]
        if op == "end_user":
            return api.end_user_upsert(payload, update=True)[1]
        if op == "response":
            end_user_id, _ = api.end_user_upsert(payload, update=False)
            posted = api.call(
                "POST", f"/v1/end_users/{end_user_id}/responses", body=_form(payload["response"], {})
            )
            response_raise(posted)
            return posted
        raise ConnectorError(f"Unknown Wootric payload '{op}'.", permanent=True)
