"""Slack: an alert (or a digest of alerts) posted to a channel through an incoming webhook, as a Block
Kit message: the score and band, the comment, the person and a link to the answer in the admin.

    POST https://hooks.slack.com/services/T000/B000/XXXX        (the webhook URL: a secret)
    {"text": "Detractor 3/10 on Onboarding NPS", "blocks": [{"type": "header", ...}, ...]}
    -> 200 "ok"; 400 invalid_payload, 403/404/410 (revoked, archived): failed for good; 429/5xx: retried

The webhook URL is itself the credential (whoever has it can post), so it is a secret (`webhook_url`,
encrypted, masked in the admin and in recorded exchanges). The setting `base_url` names the host it may
go to (default https://hooks.slack.com): it is checked by the egress guard like every URL setting, a
change of it drops the stored URL (`Destination.save`), and a webhook URL on any other host is refused
when saved and when sent. Customer text is escaped for mrkdwn (&, <, >), so a comment cannot mention
@channel or hide a link.
"""

from collections.abc import Mapping
from typing import Any

from integrations.base import (
    ALERT_DIGEST,
    ALERT_FIRED,
    TEST_EVENT_TYPE,
    BaseConnector,
    ConnectorError,
    Problem,
    SettingsSchema,
    alert_title,
    digest_title,
)
from integrations.egress import url_host_port, url_origin
from integrations.http import HttpClient, HttpExchange
from integrations.models import Destination

SECTION_LIMIT = 3000  # characters of a section's text (Block Kit)
HEADER_LIMIT = 150  # characters of a header's plain text
DIGEST_ANSWERS = 40  # Slack takes at most 50 blocks per message


def mrkdwn_escape(text: str) -> str:
    """Slack's mrkdwn control characters: what a customer writes stays plain text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _header(title: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": _cut(title, HEADER_LIMIT)}}


def _person_line(person: Mapping[str, Any] | None, account: Mapping[str, Any] | None) -> str:
    if not person:
        return "_person erased_"
    who = person.get("name") or person.get("email") or person.get("user_id") or "unknown"
    parts = [mrkdwn_escape(str(who))]
    if person.get("email") and person.get("email") != who:
        parts.append(mrkdwn_escape(str(person["email"])))
    if account and account.get("name"):
        parts.append(f"at {mrkdwn_escape(str(account['name']))}")
    return " · ".join(parts)


def _answer_blocks(alert: Mapping[str, Any]) -> list[dict[str, Any]]:
    response = alert.get("response") or {}
    comment = str(response.get("comment") or "").strip()
    quoted = "\n".join(f"> {line}" for line in mrkdwn_escape(comment).splitlines()) or "_no comment_"
    fields = [
        {"type": "mrkdwn", "text": f"*Score*\n{response.get('rating')}/10 ({response.get('band')})"},
        {"type": "mrkdwn", "text": f"*Survey*\n{mrkdwn_escape(str(response.get('survey', '')))}"},
        {"type": "mrkdwn", "text": f"*Person*\n{_person_line(response.get('person'), alert.get('account'))}"},
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "fields": fields},
        {"type": "section", "text": {"type": "mrkdwn", "text": _cut(quoted, SECTION_LIMIT)}},
    ]
    if alert.get("admin_url"):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in the hub"},
                        "url": alert["admin_url"],
                    }
                ],
            }
        )
    return blocks


def message_build(*, event_type: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """The Block Kit message of an alert, a digest or the admin's test (pure; customer text escaped)."""
    if event_type == ALERT_FIRED:
        title = alert_title(data)
        return {"text": title, "blocks": [_header(title), *_answer_blocks(data)]}
    if event_type == ALERT_DIGEST:
        alerts = list(data.get("alerts") or [])
        title = digest_title(data)
        blocks: list[dict[str, Any]] = [_header(title)]
        for alert in alerts[:DIGEST_ANSWERS]:  # score, person and comment; no button each
            blocks += [{"type": "divider"}, *_answer_blocks(alert)[:2]]
        if len(alerts) > DIGEST_ANSWERS:
            more = f"… and {len(alerts) - DIGEST_ANSWERS} more in the hub."
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": more}]})
        return {"text": title, "blocks": blocks}
    text = mrkdwn_escape(str(data.get("message", event_type)))
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


class SlackConnector(BaseConnector):
    kind = "slack"
    label = "Slack (incoming webhook)"
    settings_schema = SettingsSchema(
        required=("base_url",),
        defaults={"base_url": "https://hooks.slack.com"},
        secrets=("webhook_url",),
        urls=("base_url",),
        help={
            "base_url": "The host the webhook URL belongs to, default https://hooks.slack.com.",
            "webhook_url": "The incoming webhook's URL from Slack (https://hooks.slack.com/services/...).",
        },
    )

    def validate(self, *, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        problems = super().validate(settings=settings, secrets=secrets)
        url = secrets.get("webhook_url")
        if url and not self._same_host(settings, url):
            base = self.settings_schema.settings_with_defaults(settings).get("base_url")
            problems.append(Problem("secrets", f"'webhook_url' must be an address on {base}."))
        return problems

    def _same_host(self, settings: Mapping[str, Any], url: str) -> bool:
        base = self.settings_schema.settings_with_defaults(settings).get("base_url")
        if not isinstance(base, str) or url_host_port(url) is None or url_host_port(base) is None:
            return False
        return url_origin(url) == url_origin(base)

    def build(self, *, destination: Destination, event_type: str, data: Mapping[str, Any]) -> Any | None:
        if event_type not in (ALERT_FIRED, ALERT_DIGEST, TEST_EVENT_TYPE):
            raise ConnectorError(
                f"Slack takes alerts (alert.fired, alert.digest), not '{event_type}'.", permanent=True
            )
        return message_build(event_type=event_type, data=data)

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange:
        url = destination.secret_values()["webhook_url"]
        if not self._same_host(destination.settings, url):  # entered for another host: never sent there
            raise ConnectorError("The webhook URL is not on the destination's base_url host.", permanent=True)
        return client.request("POST", url, json=payload)
