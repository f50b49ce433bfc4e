"""Calls in the event log as the intake leaves them, for the processor's tests."""

from datetime import datetime
from typing import Any

from integrations.models import InboundEvent, Source


def identify_store(
    source: Source,
    user_id: str,
    at: datetime,
    *,
    message_id: str = "",
    status: str = InboundEvent.Status.ACCEPTED,
    **traits: Any,
) -> int:
    """An identify call received and timed at `at` (accepted: not yet processed); its id. The messageId
    is `m-<userId>` unless given."""
    return InboundEvent.objects.create(
        source=source,
        message_id=message_id or f"m-{user_id}",
        type="identify",
        user_id=user_id,
        received_at=at,
        timestamp=at,
        payload={"type": "identify", "userId": user_id, "traits": traits, "timestamp": at.isoformat()},
        status=status,
    ).pk
