"""Intake calls refused for a wrong or disabled write key, counted so staff can see them (the source's
admin page) without a database write per refused call.

Each refused call costs a few cache operations: a counter per (source or "unknown key", client
address) and that pair's last time. The first refusal of a pair in a minute also writes its row (so a
new caller shows at once); the rest of that minute's count is written by the next such refusal or by
the beat task `integrations.refused_calls_flush` (every minute), which reads the counters of the rows
written lately. Past `ADDRESSES_PER_MINUTE` new rows a minute hub-wide, further addresses are counted
together as "many addresses", so spraying from many addresses cannot become many writes either.
"""

import contextlib
import logging
from datetime import UTC, datetime, timedelta

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from integrations.models import RefusedCalls

logger = logging.getLogger(__name__)

WRITE_EVERY = 60  # seconds: at most one write per row in this time from the intake
ADDRESSES_PER_MINUTE = 100  # rows written from the intake per minute, hub-wide, before "many addresses"
MANY_ADDRESSES = "many addresses"
KEPT_FOR = timedelta(days=90)  # rows not seen for this long are deleted by the flush
_COUNTER_TTL = 24 * 3600


def _keys(source_id: int | None, address: str) -> tuple[str, str, str]:
    pair = f"{source_id or 0}:{address.replace(' ', '_')}"  # no space in a cache key
    return f"refused:n:{pair}", f"refused:at:{pair}", f"refused:gate:{pair}"


def refused_call_count(*, source_id: int | None, address: str) -> None:
    """Count one refused call. Never raises: the caller answers 401 whatever happens here."""
    try:
        _count(source_id, address[:64] or "unknown")
    except Exception:  # the cache or the database is down: the 401 matters more than the count
        logger.warning("a refused intake call was not counted", exc_info=True)


def _count(source_id: int | None, address: str) -> None:
    now = timezone.now()
    counter, last, gate = _keys(source_id, address)
    if not cache.add(gate, 1, timeout=WRITE_EVERY):
        _pending_add(counter, last, now)
        return
    minute = f"refused:rows:{now:%Y%m%d%H%M}"
    cache.add(minute, 0, timeout=120)
    if cache.incr(minute) > ADDRESSES_PER_MINUTE and address != MANY_ADDRESSES:
        cache.delete(gate)
        _count(source_id, MANY_ADDRESSES)
        return
    _pending_add(counter, last, now)
    _write(source_id, address)


def _pending_add(counter: str, last: str, now: datetime) -> None:
    cache.add(counter, 0, timeout=_COUNTER_TTL)
    cache.incr(counter)
    cache.set(last, now.timestamp(), timeout=_COUNTER_TTL)


def _write(source_id: int | None, address: str) -> None:
    """Move the pair's counted calls from the cache into its row (one UPDATE, or the INSERT of a new row)."""
    counter, last, _gate = _keys(source_id, address)
    taken = int(cache.get(counter) or 0)
    if not taken:
        return
    # What arrived meanwhile stays counted for the next write; a counter that expired meanwhile has
    # nothing left to take.
    with contextlib.suppress(ValueError):
        cache.decr(counter, taken)
    seen = datetime.fromtimestamp(float(cache.get(last) or timezone.now().timestamp()), tz=UTC)
    now = timezone.now()
    rows = RefusedCalls.objects.filter(source=source_id, address=address)  # None: IS NULL
    changes = {"count": F("count") + taken, "last_seen_at": Greatest("last_seen_at", seen), "written_at": now}
    if rows.update(**changes):
        return
    try:
        with transaction.atomic():
            RefusedCalls.objects.create(
                source_id=source_id, address=address, count=taken, first_seen_at=seen, last_seen_at=seen
            )
    except IntegrityError:  # another process made the row meanwhile
        rows.update(**changes)


def refused_calls_flush() -> int:
    """Beat, every minute: write what the intake counted since the rows were last written; delete
    rows not seen for `KEPT_FOR`. Returns how many rows it looked at."""
    now = timezone.now()
    recent = RefusedCalls.objects.filter(written_at__gte=now - timedelta(minutes=30))
    pairs = list(recent.values_list("source_id", "address"))
    for source_id, address in pairs:
        try:
            _write(source_id, address)
        except Exception:  # one row's trouble (the cache down) leaves the others to write
            logger.warning("refused calls of one address not written", exc_info=True)
    RefusedCalls.objects.filter(last_seen_at__lt=now - KEPT_FOR).delete()
    return len(pairs)
