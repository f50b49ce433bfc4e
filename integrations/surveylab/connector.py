"""SurveyLab: call a collector's API link when configured events happen, as SurveyLab's webhook
integrations (e.g. Intercom's) do: add the person to an email/SMS-invitation collector (which sends
them the survey), or switch the collector on or off.

    POST https://<host>/api.php?cId=<collector id>&apiToken=<token>&source=segment&action=<action>
    addContactToCollector: {"email": "ann@example.com", "name": "Ann Peeters", "firstName": "Ann",
                            "lastName": "Peeters", "userId": "user-1"}
    turnOnCollector / turnOffCollector: no body

Settings: `api_link` is the collector's API link *without* its apiToken (the token is the secret
`api_token`, added only when the call is made, masked in what the admin shows); `source` names the
caller (default "segment"); `actions` maps what happened to an action: a track event name
("Order Completed") or a call type ("identify"); an event name wins over its call type ("track").
Calls with no action are not sent. With an attribute mapping on the destination, its output is the
contact; otherwise the contact is read from the call's traits (or context.traits, properties).
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from integrations.base import SEGMENT_CALL_TYPES, BaseConnector, ConnectorError, Problem, SettingsSchema
from integrations.http import HttpClient, HttpExchange
from integrations.mappings import mapping_apply, mapping_compile_cached
from integrations.models import Destination

ADD_CONTACT = "addContactToCollector"
ACTIONS = (ADD_CONTACT, "turnOnCollector", "turnOffCollector")
TOKEN_PARAM = "apiToken"  # noqa: S105 - the query parameter's name, not a secret


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def contact_from_call(call: Mapping[str, Any]) -> dict[str, str]:
    """email, name, firstName, lastName and userId of the person a call is about (those it has)."""
    context = call.get("context")
    holders = [
        call.get("traits"),
        context.get("traits") if isinstance(context, dict) else None,
        call.get("properties"),
    ]
    traits: dict[str, Any] = {}
    for holder in reversed(holders):  # the call's own traits win over context.traits and properties
        if isinstance(holder, dict):
            traits.update({k: v for k, v in holder.items() if v not in (None, "")})
    first = _text(traits.get("firstName") or traits.get("first_name") or traits.get("firstname"))
    last = _text(traits.get("lastName") or traits.get("last_name") or traits.get("lastname"))
    contact = {
        "email": _text(traits.get("email")),
        "name": _text(traits.get("name")) or f"{first} {last}".strip(),
        "firstName": first,
        "lastName": last,
        "userId": _text(call.get("userId")),
    }
    return {key: value for key, value in contact.items() if value}


class SurveyLabConnector(BaseConnector):
    kind = "surveylab"
    label = "SurveyLab (collector invitations)"
    settings_schema = SettingsSchema(
        required=("api_link", "source"),
        defaults={"source": "segment", "actions": {"identify": ADD_CONTACT}},
        secrets=("api_token",),
        urls=("api_link",),
        help={
            "api_link": "The collector's API link without apiToken, e.g. https://eu.surveylab.com/api.php?cId=123.",
            "source": "Sent as source=..., default segment.",
            "actions": 'What triggers which action, e.g. {"Order Completed": "addContactToCollector", '
            '"Trial Ended": "turnOffCollector"}; keys are track event names or call types.',
            "api_token": "The apiToken part of the collector's API link.",
        },
    )

    def validate(self, *, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        problems = super().validate(settings=settings, secrets=secrets)
        merged = self.settings_schema.settings_with_defaults(settings)
        link = merged.get("api_link")
        if isinstance(link, str) and link:
            query = dict(parse_qsl(urlsplit(link).query))
            if not query.get("cId"):
                problems.append(
                    Problem(
                        "settings",
                        "'api_link' must name the collector (…/api.php?cId=<collector id>).",
                        key="api_link",
                    )
                )
            if TOKEN_PARAM in query:
                problems.append(
                    Problem(
                        "settings",
                        "remove apiToken from 'api_link' and store it as the secret api_token.",
                        key="api_link",
                    )
                )
        actions = merged.get("actions")
        if not isinstance(actions, dict) or not actions:
            problems.append(
                Problem(
                    "settings",
                    '\'actions\' maps events to actions, e.g. {"identify": "addContactToCollector"}.',
                    key="actions",
                )
            )
        else:
            problems += [
                Problem(
                    "settings",
                    f"unknown action '{action}' for '{name}' (one of {', '.join(ACTIONS)}).",
                    key="actions",
                )
                for name, action in actions.items()
                if action not in ACTIONS
            ]
        return problems

    def build(self, *, destination: Destination, event_type: str, data: Mapping[str, Any]) -> Any | None:
        if event_type not in SEGMENT_CALL_TYPES:
            raise ConnectorError(f"SurveyLab takes Segment calls, not '{event_type}'.", permanent=True)
        actions = self.settings_schema.settings_with_defaults(destination.settings)["actions"] or {}
        event_name = data.get("event") if event_type == "track" else None
        action = (actions.get(event_name) if isinstance(event_name, str) else None) or actions.get(event_type)
        if action is None:
            return None  # nothing configured for this event
        if action not in ACTIONS:
            raise ConnectorError(f"Unknown SurveyLab action '{action}'.", permanent=True)
        if action != ADD_CONTACT:
            return {"action": action}
        if destination.mapping_set is not None:
            contact = mapping_apply(
                mapping=mapping_compile_cached(mapping_set=destination.mapping_set), call=data
            ).output
        else:
            contact = contact_from_call(data)
        if not contact.get("email"):
            raise ConnectorError("SurveyLab needs the contact's email; the call has none.", permanent=True)
        return {"action": action, "contact": contact}

    def api_url(self, *, destination: Destination, action: str) -> str:
        """The collector's API link with the token, source and action added."""
        settings = self.settings_schema.settings_with_defaults(destination.settings)
        token = destination.secret_values()["api_token"]
        parts = urlsplit(str(settings["api_link"]))
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in (TOKEN_PARAM, "source", "action")]
        query += [(TOKEN_PARAM, token), ("source", str(settings["source"])), ("action", action)]
        return urlunsplit(parts._replace(query=urlencode(query)))

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange:
        url = self.api_url(destination=destination, action=payload["action"])
        return client.request("POST", url, json=payload.get("contact"))
