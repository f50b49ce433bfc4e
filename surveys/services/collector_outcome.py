"""What a collector call led to (for the caller and the event log), and "decide later"."""

from dataclasses import dataclass
from typing import Any

from integrations.models import InboundEvent
from surveys.models import Collector, Invitation


class CollectorRetry(Exception):
    """The decision cannot be made yet (the event is being processed, the vendor is unreachable)."""

    def __init__(self, message: str, countdown: float = 5.0) -> None:
        super().__init__(message)
        self.countdown = countdown


@dataclass
class Outcome:
    """What a call led to, for the caller and the event log.

    status: invited, already_surveyed, suppressed, not_eligible, collector_off, not_configured,
    turned_on, turned_off, accepted (a vendor's call: decided in the background), duplicate, ping,
    ignored, rejected, failed.
    """

    status: str
    message: str
    http_status: int = 200
    code: str = ""
    invitation: Invitation | None = None

    @property
    def event_status(self) -> str:
        if self.status == "rejected":
            return InboundEvent.Status.REJECTED
        if self.status == "failed":
            return InboundEvent.Status.FAILED
        return InboundEvent.Status.PROCESSED

    def as_json(self, collector: Collector) -> dict[str, Any]:
        data: dict[str, Any] = {
            "success": self.status not in ("rejected", "failed"),
            "status": self.status,
            "message": self.message,
            "collector": collector.pk,
            "enabled": collector.enabled,
        }
        if self.invitation is not None:
            data["invitation"] = {"id": self.invitation.pk, "due_at": self.invitation.due_at.isoformat()}
        return data
