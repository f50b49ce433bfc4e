"""What the NPS sync-back sends: one `identify` per person whose latest response changed, with the
traits `NPS_rating`, `NPS_comment` and `NPS_date` (when that rating was given: `Response.rated_at`),
packed into `/v1/batch` bodies within Segment's limits (500 KB, 2,500 events). Reading and building
only; surveys/services/sync_back.py sends them and keeps the cursor.

- Responses are read in (updated_at, id) order after a position, and only those that are their
  person's latest (by answered_at, then id) are sent: a comment added to an older answer never
  overwrites a newer rating downstream.
- messageIds are a hash of (destination, response id, updated_at): a rerun, a retry or a forced
  resend sends the same ids, so Segment (or a hub) drops what it already has.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from django.db.models import Exists, OuterRef, Q, QuerySet

from customers.models import Identity
from integrations.http import user_agent
from integrations.models import Source
from surveys.models import Response, comment_is_stale
from surveys.selectors import answers_after_outer

# Segment's limits (HTTP API doc): 500 KB and 2,500 events per batch, 32 KB per event.
MAX_BATCH_BYTES = 500_000
MAX_BATCH_EVENTS = 2_500
MAX_EVENT_BYTES = 32_768
PAGE_SIZE = 2_000  # responses read per query
_ENVELOPE = (b'{"batch":[', b"]}")

Position = tuple[datetime | None, int]  # (updated_at, response id); (None, 0): the beginning


@dataclass
class Batch:
    """One /v1/batch body and the cursor position it covers up to. The last one a read yields may
    have no events: the responses after the last batch, all skipped; it is counted, never sent."""

    events: list[dict[str, Any]] = field(default_factory=list)
    message_ids: list[str] = field(default_factory=list)
    size: int = len(_ENVELOPE[0]) + len(_ENVELOPE[1])
    responses: int = 0  # responses read for it, sent or skipped
    skipped: int = 0  # of those, not their person's latest, or their person has no id
    until: tuple[datetime, int] | None = None
    delivery_id: int | None = None
    status: str = ""

    @property
    def key(self) -> str:
        return "sync-back:" + hashlib.sha256(",".join(self.message_ids).encode()).hexdigest()

    def payload(self) -> dict[str, Any]:
        return {"batch": self.events}


def _after(position: Position) -> Q:
    at, response_id = position
    if at is None:
        return Q()
    return Q(updated_at__gt=at) | Q(updated_at=at, pk__gt=response_id)


def responses_changed(*, source: Source, after: Position, until: datetime) -> QuerySet[Response]:
    """Responses of the source's people changed after `after` (and no later than `until`), in
    (updated_at, id) order, annotated `is_newer`: whether their person answered again later."""
    newer = Response.objects.filter(answers_after_outer(), person_id=OuterRef("person_id"))
    return (
        Response.objects.filter(person__source=source, updated_at__lte=until)
        .filter(_after(after))
        .annotate(is_newer=Exists(newer))
        .order_by("updated_at", "pk")
    )


def _anonymous_ids(person_ids: set[int]) -> dict[int, str]:
    """Each person's first anonymousId: the id the source used for them before any userId."""
    found: dict[int, str] = {}
    rows = (
        Identity.objects.filter(person_id__in=person_ids, kind=Identity.Kind.ANONYMOUS)
        .order_by("person_id", "created_at", "pk")
        .values_list("person_id", "value")
    )
    for person_id, value in rows:
        found.setdefault(person_id, value)
    return found


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def message_id(*, destination_id: int, response_id: int, updated_at: datetime) -> str:
    """Stable per (destination, response, version of the response): the same on every rerun and
    resend, new when the answer changes. Destinations differ because Segment's dedupe is global."""
    at = updated_at.astimezone(UTC).isoformat(timespec="microseconds")
    return "fh-" + hashlib.sha256(f"{destination_id}:{response_id}:{at}".encode()).hexdigest()[:40]


def identify_event(
    *, destination_id: int, row: dict[str, Any], user_id: str | None, anonymous_id: str | None
) -> dict[str, Any]:
    """The identify call for one response (`row`: id, rating, comment, rated_at, updated_at).

    NPS_date is when the rating was given (or last changed), as Callexa sends it; the call's
    timestamp is when the answer last changed, so a receiver that orders traits by time (a hub)
    takes a comment added later, or the survivor's answer after a merge, as the newer value.
    """
    event: dict[str, Any] = {"type": "identify"}
    if user_id:
        event["userId"] = user_id
    else:
        event["anonymousId"] = anonymous_id
    event["traits"] = {
        "NPS_rating": int(row["rating"]),
        # Empty while the comment answers another band's question than the rating's (docs/operations.md).
        "NPS_comment": ""
        if comment_is_stale(comment=row["comment"], comment_band=row["comment_band"], rating=row["rating"])
        else row["comment"] or "",
        "NPS_date": _iso(row["rated_at"]),
    }
    event["timestamp"] = _iso(row["updated_at"])
    event["messageId"] = message_id(
        destination_id=destination_id, response_id=row["id"], updated_at=row["updated_at"]
    )
    event["context"] = {"library": {"name": "feedback-hub", "version": user_agent().partition("/")[2]}}
    return event


def _encoded(event: dict[str, Any]) -> bytes:
    """The event's JSON; a comment too long for Segment's 32 KB per event is cut to fit."""
    data = orjson.dumps(event)
    while len(data) > MAX_EVENT_BYTES:
        comment = event["traits"]["NPS_comment"]
        event["traits"]["NPS_comment"] = comment[: max(0, len(comment) - (len(data) - MAX_EVENT_BYTES) - 16)]
        data = orjson.dumps(event)
    return data


def batches_build(
    *, destination_id: int, source: Source, after: Position, until: datetime
) -> Iterator[Batch]:
    """The batches to send after `after`, built page by page (keyset), each within Segment's limits."""
    batch = Batch()
    position = after
    while True:
        changed = responses_changed(source=source, after=position, until=until)
        fields = (
            "id",
            "rating",
            "comment",
            "comment_band",
            "rated_at",
            "updated_at",
            "person_id",
            "person__user_id",
            "is_newer",
        )
        page = list(changed.values(*fields)[:PAGE_SIZE])
        if not page:
            break
        anonymous = _anonymous_ids(
            {r["person_id"] for r in page if not r["person__user_id"] and not r["is_newer"]}
        )
        for row in page:
            user_id, anonymous_id = row["person__user_id"], anonymous.get(row["person_id"])
            if row["is_newer"] or not (user_id or anonymous_id):
                batch.skipped += 1  # the person answered again later, or has no id the source knows
                batch.responses += 1
                batch.until = (row["updated_at"], row["id"])
                continue
            event = identify_event(
                destination_id=destination_id, row=row, user_id=user_id, anonymous_id=anonymous_id
            )
            data = _encoded(event)
            separator = 1 if batch.events else 0
            if batch.events and (
                len(batch.events) >= MAX_BATCH_EVENTS or batch.size + separator + len(data) > MAX_BATCH_BYTES
            ):
                yield batch
                batch, separator = Batch(), 0
            batch.events.append(event)
            batch.message_ids.append(event["messageId"])
            batch.size += separator + len(data)
            batch.responses += 1
            batch.until = (row["updated_at"], row["id"])
        position = (page[-1]["updated_at"], page[-1]["id"])
    if batch.responses:
        yield batch
