"""The dispatcher's claims on invitation rows: take due ones, check a claim still stands right before
its message, mark a message sent right after the server accepted it.

Exactly once rests on these three (docs/architecture.md, "Exactly one email per invitation"): a row is
`sending` from its claim until its mark, a claim older than SURVEY_CLAIM_TIMEOUT_SECONDS belongs to a
dispatcher that died, and the mark only turns a `sending` row into `sent`.
"""

import select
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import F, Q

from hub.db import row_exists
from surveys.models import Invitation

# A message that crashed or lost its dispatcher this many times is given up as failed.
MAX_ATTEMPTS = 5


def invitations_claim(*, now: datetime, limit: int) -> list[int]:
    """Take up to `limit` due invitations for this dispatcher (status sending, claimed_at now)."""
    stale = now - timedelta(seconds=settings.SURVEY_CLAIM_TIMEOUT_SECONDS)
    abandoned = Q(status=Invitation.Status.SENDING) & (Q(claimed_at__lt=stale) | Q(claimed_at__isnull=True))
    # A message whose dispatcher kept dying (e.g. it crashes the worker) is not tried forever.
    Invitation.objects.filter(abandoned, attempts__gte=MAX_ATTEMPTS).update(
        status=Invitation.Status.FAILED,
        error=f"gave up after {MAX_ATTEMPTS} attempts: the dispatcher stopped while sending",
    )
    due = Q(status=Invitation.Status.SCHEDULED, due_at__lte=now) | abandoned
    with transaction.atomic():
        ids = list(
            Invitation.objects.filter(due)
            .order_by("due_at", "pk")
            .select_for_update(skip_locked=True)
            .values_list("pk", flat=True)[:limit]
        )
        Invitation.objects.filter(pk__in=ids).update(
            status=Invitation.Status.SENDING, claimed_at=now, attempts=F("attempts") + 1
        )
    return ids


def invitation_claim_stands(*, invitation_id: int, person_id: int) -> bool:
    """Still ours to send: `sending`, and still this person's. Every writer of a suppression cancels the
    open invitations it concerns in the same transaction (an erasure unlinks the person), so this one
    primary-key query sees an erase, unsubscribe or bounce that landed since the claim."""
    return row_exists(Invitation, pk=invitation_id, status=Invitation.Status.SENDING, person_id=person_id)


def invitation_mark_sent(
    *, invitation_id: int, sent_at: datetime, language: str, then_check: tuple[int, int] | None
) -> tuple[bool, bool]:
    """Mark one invitation sent (if its claim stands) and check the claim of the next one, `then_check`
    = (invitation id, person id) as in `invitation_claim_stands`; returns (marked, next claim stands).

    On PostgreSQL both are one statement, so a message costs one round trip after the server took it,
    and the mark commits without waiting for its WAL flush (`synchronous_commit` off for this
    transaction alone). A dispatcher killed after the statement returned cannot lose the mark: only
    a crash of PostgreSQL itself can, for the last moments' commits (at most three times
    `wal_writer_delay`, 0.6 s by default). Those rows are still `sending` afterwards, so once their
    claim is stale they are sent again with the same Message-ID: the duplicate a dispatcher killed
    between the server's answer and the mark already makes. Measured: docs/benchmarks.md, Findings.
    Called inside a transaction, the whole transaction commits that way.
    """
    if connection.vendor != "postgresql":
        marked = Invitation.objects.filter(pk=invitation_id, status=Invitation.Status.SENDING).update(
            status=Invitation.Status.SENT, sent_at=sent_at, language=language, error=""
        )
        stands = then_check is not None and invitation_claim_stands(
            invitation_id=then_check[0], person_id=then_check[1]
        )
        return bool(marked), stands
    next_id, next_person = then_check or (None, None)
    sending, sent = Invitation.Status.SENDING.value, Invitation.Status.SENT.value
    with connection.cursor() as cursor:
        cursor.execute(
            _mark_sql(),
            [sent, sent_at, language, invitation_id, sending, next_id, sending, next_person],
        )
        row = cursor.fetchone()
    assert row is not None
    return bool(row[1]), then_check is not None and bool(row[2])


def invitation_mark_sent_start(
    *, invitation_id: int, sent_at: datetime, language: str, then_check: tuple[int, int] | None
) -> Callable[[], tuple[bool, bool]]:
    """`invitation_mark_sent`, sent off without waiting for PostgreSQL's answer: returns the function
    that waits for it (call it before anything else uses the database connection). The dispatcher
    talks to the email server meanwhile.

    On PostgreSQL outside a transaction only: the statement goes through psycopg's libpq connection
    (`Connection.pgconn`, psycopg's public door to what it does not wrap; `send_query_params`, libpq's
    non-blocking call), as the one statement `invitation_mark_sent` runs, followed by its Sync, so
    PostgreSQL commits it as soon as it has run, whether or not its answer is ever read: a dispatcher
    killed while the server answers MAIL FROM has not lost the mark (tests/surveys/test_dispatch_smtp.py).
    Not psycopg's pipeline mode (`Connection.pipeline()`): its public calls send the Sync only while
    waiting for the answer, so the commit would wait for the email server; nor `hub.db.binary_rows`,
    which waits. Elsewhere (SQLite; inside `atomic`, where the statement must wait for the
    transaction's other work) it runs at once."""
    if connection.vendor != "postgresql" or connection.in_atomic_block or not connection.get_autocommit():
        result = invitation_mark_sent(
            invitation_id=invitation_id, sent_at=sent_at, language=language, then_check=then_check
        )
        return lambda: result
    next_id, next_person = then_check or (None, None)
    sending, sent = Invitation.Status.SENDING.value, Invitation.Status.SENT.value
    values = [sent, sent_at.isoformat(), language, invitation_id, sending, next_id, sending, next_person]
    params = [None if v is None else str(v).encode() for v in values]
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    sql = _mark_sql_numbered()
    started = time.perf_counter()
    with connection.wrap_database_errors:
        pgconn.send_query_params(sql.encode(), params)
        while pgconn.flush():  # nonblocking: the rest of the statement once the socket takes it
            select.select([], [pgconn.socket], [])

    def answer() -> tuple[bool, bool]:
        with connection.wrap_database_errors:
            row = _row_of(pgconn)
        if connection.queries_logged:  # as Django's debug cursor: assertNumQueries counts it
            connection.queries_log.append({"sql": sql, "time": f"{time.perf_counter() - started:.3f}"})
        return row[1] == b"1", then_check is not None and row[2] == b"t"

    return answer


def _row_of(pgconn: Any) -> list[bytes | None]:
    """Wait for the one-row answer to the statement sent on `pgconn` and take all of it."""
    import psycopg

    rows: list[bytes | None] | None = None
    error = None
    while True:
        pgconn.consume_input()
        while not pgconn.is_busy():
            result = pgconn.get_result()
            if result is None:
                if error is not None:
                    raise psycopg.DatabaseError(error)
                assert rows is not None
                return rows
            if result.status == psycopg.pq.ExecStatus.TUPLES_OK:
                rows = [result.get_value(0, column) for column in range(result.nfields)]
            else:
                error = result.error_message.decode(errors="replace") or "the mark failed"
        select.select([pgconn.socket], [], [])


@cache
def _mark_sql_numbered() -> str:
    """_mark_sql with libpq's numbered parameters ($1 ...) instead of psycopg's %s."""
    return _mark_sql() % tuple(f"${n}" for n in range(1, 9))


@cache
def _mark_sql() -> str:
    meta = Invitation._meta
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        field = meta.pk if name == "pk" else meta.get_field(name)
        assert isinstance(field, models.Field)
        return quote(field.column)

    table, pk, status, person = quote(meta.db_table), column("pk"), column("status"), column("person")
    return (
        f"WITH marked AS (UPDATE {table} SET {status} = %s, {column('sent_at')} = %s, "  # noqa: S608
        f"{column('language')} = %s, {column('error')} = '' WHERE {pk} = %s AND {status} = %s RETURNING 1) "
        "SELECT set_config('synchronous_commit', 'off', true), (SELECT count(*) FROM marked), "
        f"EXISTS (SELECT 1 FROM {table} WHERE {pk} = %s AND {status} = %s AND {person} = %s)"
    )
