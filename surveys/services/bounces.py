"""Bounced addresses: refused at send time (surveys/services/dispatch.py), or reported later by the
email service through anymail's tracking webhooks.

`email_bounced` suppresses the address hub-wide and cancels its open invitations in one transaction.
`mail_tracking_received` is connected to anymail's `tracking` signal (surveys/apps.py). The webhook
URLs (`/anymail/<esp>/tracking/`) exist only when `ANYMAIL["WEBHOOK_SECRET"]` is set, and anymail
checks that HTTP Basic secret on every call (hub/urls.py), so nobody else can suppress addresses.
A "bounced" or "rejected" event is a bounce; other events (delivered, opened ...) change nothing.
"""

import logging
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType
from django.db import transaction

from customers.models import Suppression
from customers.selectors import suppressions_for
from customers.services.suppressions import suppressions_record
from surveys.models import Invitation

logger = logging.getLogger(__name__)

BOUNCE_EVENTS = frozenset({EventType.BOUNCED, EventType.REJECTED})


def email_bounced(*, email: str) -> int:
    """`email` bounced: no survey of any source or collector may reach it again. Records the hub-wide
    suppression and cancels the address's open invitations (a dispatcher sending one of them right
    now sees that before its message); returns how many were cancelled."""
    with transaction.atomic():
        suppressions_record(reason=Suppression.Reason.BOUNCED, emails=[email])
        suppression = suppressions_for([(None, "email", email)]).find(None, "email", email)
        reason = f"suppressed: {suppression.described}" if suppression else "suppressed: email bounced"
        return Invitation.objects.filter(
            person__email=email.strip().lower(), status__in=Invitation.OPEN
        ).update(status=Invitation.Status.CANCELLED, error=reason)


def mail_tracking_received(*, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """anymail `tracking` receiver: a bounced or rejected recipient is suppressed for every survey."""
    recipient = event.recipient
    if event.event_type not in BOUNCE_EVENTS or not isinstance(recipient, str) or not recipient:
        return
    cancelled = email_bounced(email=recipient)
    logger.info(
        "%s reported a %s recipient: suppressed, %d invitations cancelled",
        esp_name,
        event.event_type,
        cancelled,
    )
