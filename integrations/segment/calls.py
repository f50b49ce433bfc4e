"""Segment's call types: the one list that the intake, the event log, customer records, triggers and
forwarding derive theirs from (shared/reference/protocols.md §1)."""

from django.db import models


class SegmentCall(models.TextChoices):
    IDENTIFY = "identify"
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    GROUP = "group"
    ALIAS = "alias"
    DELETE = "delete"  # a user-deletion request, forwarded by Segment to destinations


CALL_TYPES: tuple[str, ...] = tuple(SegmentCall.values)
# Calls about what a person does and is: applied to customer records in bulk, and what a trigger can
# fire on. `alias` and `delete` change who a person is and are applied one at a time.
ACTIVITY_CALL_TYPES: tuple[str, ...] = tuple(
    call for call in CALL_TYPES if call not in (SegmentCall.ALIAS, SegmentCall.DELETE)
)
# The calls with an endpoint of their own (/v1/identify ...); a delete comes only inside a batch.
ENDPOINT_CALL_TYPES: tuple[str, ...] = tuple(call for call in CALL_TYPES if call != SegmentCall.DELETE)
# What the event log calls an event whose type could not be read (it is stored as rejected).
UNKNOWN_CALL_TYPE = "unknown"


def forwarding_key(*, source_id: int, message_id: str) -> str:
    """The idempotency key of a forwarded call's deliveries: the same for every destination and
    attempt, so reprocessing creates nothing new; erasure finds them by it."""
    return f"segment:{source_id}:{message_id}"
