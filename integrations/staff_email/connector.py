"""Staff email: an alert (or a digest of alerts) emailed to the team through the hub's own mail
server (EMAIL_URL), e.g. to cs-team@acme.example. A delivery like any other, so a mail server that is
down is retried, a refused address fails for good, and staff replay from the admin.

    settings: {"to": ["cs-team@acme.example", "ann@acme.example"]}
    -> one plain-text message per alert: "[Feedback Hub] Detractor 3/10 on Onboarding NPS (rule: ...)"

The body holds the score, the comment, the person and the link to the answer in the admin. The message
goes only to the addresses staff entered; its Message-ID is derived from the delivery's idempotency
key, so a retry after a lost answer from the server carries the same one.
"""

import smtplib
from collections.abc import Mapping
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings
from django.core.mail import EmailMessage, get_connection

from hub.errors import error_text
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
from integrations.http import HttpClient, HttpExchange
from integrations.models import Destination

SUBJECT_PREFIX = "[Feedback Hub] "


def _addresses(value: Any) -> list[str] | None:
    if not isinstance(value, list) or not value:
        return None
    found = [str(v).strip() for v in value if isinstance(v, str)]
    if len(found) != len(value) or any("@" not in parseaddr(v)[1] or "\n" in v or "\r" in v for v in found):
        return None
    return found


def _answer_lines(alert: Mapping[str, Any]) -> list[str]:
    response = alert.get("response") or {}
    person = response.get("person") or {}
    account = alert.get("account") or {}
    who = " ".join(str(p) for p in (person.get("name"), person.get("email") or person.get("user_id")) if p)
    lines = [
        f"Score: {response.get('rating')}/10 ({response.get('band')})",
        f"Survey: {response.get('survey')}",
        f"Person: {who or 'erased'}" + (f" at {account['name']}" if account.get("name") else ""),
        "Comment:",
        *(f"  {line}" for line in (str(response.get("comment") or "").splitlines() or ["(none)"])),
    ]
    if alert.get("admin_url"):
        lines.append(f"Open in the hub: {alert['admin_url']}")
    return lines


def message_text(*, event_type: str, data: Mapping[str, Any]) -> tuple[str, str]:
    """(subject, body) of an alert, a digest or the admin's test (pure)."""
    if event_type == ALERT_FIRED:
        return SUBJECT_PREFIX + alert_title(data), "\n".join(_answer_lines(data)) + "\n"
    if event_type == ALERT_DIGEST:
        alerts = list(data.get("alerts") or [])
        subject = SUBJECT_PREFIX + digest_title(data)
        parts = ["\n".join(_answer_lines(alert)) for alert in alerts]
        return subject, "\n\n".join(parts) + "\n"
    return SUBJECT_PREFIX + "test", str(data.get("message", event_type)) + "\n"


class StaffEmailConnector(BaseConnector):
    kind = "staff_email"
    label = "Email to staff (alerts)"
    settings_schema = SettingsSchema(
        required=("to",),
        help={"to": 'The team\'s addresses, e.g. ["cs-team@acme.example"].'},
    )

    def validate(self, *, settings: Mapping[str, Any], secrets: Mapping[str, str]) -> list[str]:
        problems = super().validate(settings=settings, secrets=secrets)
        if settings.get("to") not in (None, "") and _addresses(settings.get("to")) is None:
            problems.append(Problem("settings", "'to' must be a list of email addresses."))
        return problems

    def build(self, *, destination: Destination, event_type: str, data: Mapping[str, Any]) -> Any | None:
        if event_type not in (ALERT_FIRED, ALERT_DIGEST, TEST_EVENT_TYPE):
            raise ConnectorError(f"Staff email takes alerts, not '{event_type}'.", permanent=True)
        subject, body = message_text(event_type=event_type, data=data)
        return {"subject": subject, "body": body}

    def deliver(
        self, *, destination: Destination, payload: Any, idempotency_key: str, client: HttpClient
    ) -> HttpExchange:
        to = _addresses(destination.settings.get("to"))
        if to is None:
            raise ConnectorError("'to' must be a list of email addresses.", permanent=True)
        host = urlsplit(django_settings.HUB_BASE_URL).hostname or "localhost"
        key = "".join(c if c.isalnum() or c in ".-" else "-" for c in idempotency_key)
        subject, body = str(payload.get("subject", "")), str(payload.get("body", ""))
        message = EmailMessage(
            subject=subject,
            body=body,
            to=to,
            headers={"Message-ID": f"<{key}@{host}>", "Auto-Submitted": "auto-generated"},
        )
        exchange = HttpExchange(
            method="SMTP",
            url=f"mailto:{','.join(to)}",
            request_headers={"Subject": subject},
            request_body=body,
        )
        try:
            get_connection(fail_silently=False).send_messages([message])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            exchange.error = f"recipients refused ({', '.join(map(str, codes))})"
            raise ConnectorError(
                exchange.error, permanent=all(c >= 500 for c in codes), exchange=exchange
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            exchange.error = f"mail server: {error_text(exc)}"
            raise ConnectorError(exchange.error, exchange=exchange) from exc
        exchange.status = 250  # the server accepted the message (SMTP's "OK")
        return exchange
