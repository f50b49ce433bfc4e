"""Bounces an email service reports after it accepted a message (anymail's tracking webhooks).

`mail_tracking_received` is connected to anymail's `tracking` signal (surveys/apps.py). The webhook
URLs (`/anymail/<esp>/tracking/`) exist only when `ANYMAIL["WEBHOOK_SECRET"]` is set, and anymail
checks that HTTP Basic secret on every call (hub/urls.py), so nobody else can suppress addresses.
A "bounced" or "rejected" event suppresses the address hub-wide, as a refused recipient at send time
does (surveys/services/dispatch.py); other events (delivered, opened ...) change nothing.
"""

import logging
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType

from customers.models import Suppression
from customers.services import suppressions_record

logger = logging.getLogger(__name__)

BOUNCE_EVENTS = frozenset({EventType.BOUNCED, EventType.REJECTED})


def mail_tracking_received(*, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """anymail `tracking` receiver: a bounced or rejected recipient is suppressed for every survey."""
    if event.event_type not in BOUNCE_EVENTS or not isinstance(event.recipient, str) or not event.recipient:
        return
    new = suppressions_record(reason=Suppression.Reason.BOUNCED, emails=[event.recipient])
    logger.info(
        "%s reported a %s recipient: %s",
        esp_name,
        event.event_type,
        "suppressed" if new else "suppressed already",
    )
