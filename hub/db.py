"""Database helpers shared by the apps: the hot paths' bulk insert and update, row check and advisory
locks, the erasure's JSON search."""

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

from django.db import connection, models
from django.db.models import Q
from django.db.models.functions import Cast
from django.db.models.lookups import IContains
from django.utils import timezone

M = TypeVar("M", bound=models.Model)


def bulk_update(model: type[models.Model], objs: Sequence[models.Model], fields: list[str]) -> None:
    """`model.objects.bulk_update(objs, fields)`: on PostgreSQL one UPDATE ... FROM unnest(arrays).

    Django's bulk_update writes `SET f = CASE WHEN id = 1 THEN ... WHEN id = 2 ...` for every field:
    building that expression was half of the processor's time (docs/benchmarks.md), and PostgreSQL
    evaluates it in O(rows x rows). Here every field travels as one binary array and the rows are
    joined on the primary key. Same values, same rows; like bulk_update, no `pre_save` (auto_now).
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, fields)
        return
    import psycopg

    meta = model._meta
    columns: list[models.Field[Any, Any]] = []
    for name in ["pk", *fields]:
        column = meta.pk if name == "pk" else meta.get_field(name)
        assert isinstance(column, models.Field)
        columns.append(column)
    arrays = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for obj in objs]
        for column in columns
    ]
    quote = connection.ops.quote_name
    names = [quote(column.column) for column in columns]
    casts = [f"%b::{column.db_type(connection)}[]" for column in columns]
    sets = ", ".join(f"{name} = x.{name}" for name in names[1:])
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {sets} "  # noqa: S608 - our own names; values are bound
        f"FROM unnest({', '.join(casts)}) AS x({', '.join(names)}) WHERE t.{names[0]} = x.{names[0]}"
    )
    connection.ensure_connection()
    started = time.monotonic()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, arrays, binary=True)
    if connection.queries_logged:  # as Django's own cursor does (CaptureQueriesContext, DEBUG)
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


def bulk_create(model: type[M], objs: Sequence[M], *, ignore_conflicts: bool = False) -> None:
    """`model.objects.bulk_create(objs, ignore_conflicts=...)`: on PostgreSQL every column travels as
    one binary array, `INSERT ... SELECT * FROM unnest(...) RETURNING id`.

    Django's own insert of many rows also unnests arrays, but sends them as text-format literals,
    which psycopg builds by escaping every element with a regular expression (`ListDumper`, `re` in
    the processor's profile, docs/benchmarks.md). Same rows; like bulk_create, `pre_save` runs
    (auto_now_add), the new primary keys are set (not with `ignore_conflicts`: a skipped row has
    none), and no signal is sent. Elsewhere, or for rows it does not cover (a primary key given, an
    expression as a value), it is Django's bulk_create.
    """
    if not objs:
        return
    meta = model._meta
    orm = model._default_manager
    if connection.vendor != "postgresql" or not isinstance(meta.pk, models.AutoField | models.BigAutoField):
        orm.bulk_create(objs, ignore_conflicts=ignore_conflicts)
        return
    fields = [f for f in meta.concrete_fields if f is not meta.pk and not f.generated]
    for obj in objs:  # foreign keys to objects saved since they were set, as bulk_create does first
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
    arrays = [
        [field.get_db_prep_save(field.pre_save(obj, True), connection) for obj in objs] for field in fields
    ]
    if any(obj.pk is not None for obj in objs) or any(hasattr(v, "as_sql") for a in arrays for v in a):
        orm.bulk_create(objs, ignore_conflicts=ignore_conflicts)
        return
    import psycopg

    quote = connection.ops.quote_name
    casts = ", ".join(f"%b::{field.db_type(connection)}[]" for field in fields)
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"SELECT * FROM unnest({casts})"
        f"{' ON CONFLICT DO NOTHING' if ignore_conflicts else ''} RETURNING {quote(meta.pk.column)}"
    )
    connection.ensure_connection()
    started = time.monotonic()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, arrays, binary=True)
        ids = [row[0] for row in cursor.fetchall()]
    if connection.queries_logged:  # as Django's own cursor does (CaptureQueriesContext, DEBUG)
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    if not ignore_conflicts:
        for obj, pk in zip(objs, ids, strict=True):  # RETURNING gives the rows in the order inserted
            obj.pk = pk
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def advisory_locks(keys: Sequence[str]) -> None:
    """Take a transaction-level advisory lock per key (held until the transaction ends), in one
    statement and in hash order, so that two transactions locking overlapping keys never wait for
    each other in a circle. The key's 64-bit hash is locked: a collision only means an extra wait.
    The keys travel as one binary array: as text, psycopg escaped every element with a regular
    expression (`ListDumper`, `re` in the processor's profile, docs/benchmarks.md). PostgreSQL only;
    elsewhere (SQLite in embedded mode: one writer at a time) there is nothing to do.
    """
    if not keys or connection.vendor != "postgresql":
        return
    import psycopg

    sql = (
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(key, 0) AS k"
        " FROM unnest(%b::text[]) AS key ORDER BY 1) AS keys"
    )
    connection.ensure_connection()
    started = time.monotonic()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, [list(keys)], binary=True)
    if connection.queries_logged:  # as Django's own cursor does (CaptureQueriesContext, DEBUG)
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})


def json_mentions(column: str, values: Iterable[str]) -> Q:
    """Rows whose JSON `column` holds one of `values` as a whole string, a key or a value at any depth
    (case-insensitively): `json_mentions("payload", ["ann@example.com"])`.

    The column is searched as text, for the value JSON-quoted ("ann@example.com" with its quotes, so
    "ann@example.com.au" does not match), in both spellings a row may have: non-ASCII as is (jsonb,
    orjson) or \\u-escaped (Django's json.dumps on SQLite). A full scan of the rows the other filters
    leave: for rare work such as erasure, never on a request path.
    """
    query = Q(pk__in=[])
    text = Cast(column, models.TextField())
    for value in values:
        if value:
            for needle in {json.dumps(value), json.dumps(value, ensure_ascii=False)}:
                query |= Q(IContains(text, needle))
    return query


def row_exists(model: type[models.Model], **equals: Any) -> bool:
    """`model.objects.filter(**equals).exists()` for plain column equalities (`pk=`, `status=`,
    `person_id=`), without building an ORM query each time.

    The dispatcher asks this once per message, right before sending it: as an ORM query it cost
    ~450 µs on PostgreSQL (query building, not the database), this way ~70 µs, about a tenth of an
    email's time (docs/benchmarks.md). Column names come from the model and the SQL is built once
    per model and set of names; values are bound as parameters.
    """
    sql, fields = _exists_sql(model, tuple(equals))
    params = [
        field.get_db_prep_value(value, connection)
        for field, value in zip(fields, equals.values(), strict=True)
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() is not None


@cache
def _exists_sql(
    model: type[models.Model], names: tuple[str, ...]
) -> tuple[str, list[models.Field[Any, Any]]]:
    meta = model._meta
    fields: list[models.Field[Any, Any]] = []
    for name in names:
        field = meta.pk if name == "pk" else meta.get_field(name)
        assert isinstance(field, models.Field)
        assert field.concrete
        fields.append(field)
    quote = connection.ops.quote_name
    where = " AND ".join(f"{quote(field.column)} = %s" for field in fields)
    return f"SELECT 1 FROM {quote(meta.db_table)} WHERE {where} LIMIT 1", fields  # noqa: S608 - model names


def bulk_insert(
    model: type[models.Model], columns: Mapping[str, Sequence[Any]], *, ignore_conflicts: bool = False
) -> None:
    """Insert rows given as columns of plain values, `{"survey_id": [...], "due_at": [...]}` (by
    attribute name, one list per field, all of one length); every other field takes its default
    (one value for the whole statement: `created_at` defaulting to `timezone.now` is the same moment
    for every row).

    For rows that are only written, never read back: `bulk_create` needs a model object per row and
    prepares every field of every one of them (`get_db_prep_save`), which was most of the trigger
    handler's insert of invitations (docs/benchmarks.md). Here the given columns travel as they are,
    one binary array each, so their values must be what the database takes (ids, aware datetimes,
    text); no `pre_save` beyond `auto_now`/`auto_now_add`, no signal. Elsewhere than PostgreSQL it is
    Django's bulk_create of the same rows.
    """
    count = len(next(iter(columns.values()), ()))
    if not count:
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if f is not meta.pk and not f.generated]
    given = {f.attname: f for f in fields if f.attname in columns}
    unknown = set(columns) - set(given)
    if unknown:
        raise ValueError(f"{meta.label} has no column {', '.join(sorted(unknown))}")
    defaults = {}
    for field in fields:
        if field.attname not in given:
            now = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
            defaults[field.attname] = timezone.now() if now else field.get_default()
    if connection.vendor != "postgresql":
        objs = [
            model(**defaults, **{name: values[i] for name, values in columns.items()}) for i in range(count)
        ]
        model._default_manager.bulk_create(objs, ignore_conflicts=ignore_conflicts)
        return
    import psycopg

    quote = connection.ops.quote_name
    selected, defaulted, arrays, columns_given = [], [], [], []
    for field in fields:
        db_type = field.db_type(connection)
        if field.attname in given:
            arrays.append(f"%b::{db_type}[]")
            columns_given.append(list(columns[field.attname]))
            selected.append(f"x.c{len(arrays)}")
        else:
            selected.append(f"%b::{db_type}")
            defaulted.append(field.get_db_prep_save(defaults[field.attname], connection))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "  # noqa: S608
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) "
        f"AS x({', '.join(f'c{n}' for n in range(1, len(arrays) + 1))})"
        f"{' ON CONFLICT DO NOTHING' if ignore_conflicts else ''}"
    )
    params = [*defaulted, *columns_given]  # in the statement's order: the select list, then FROM
    connection.ensure_connection()
    started = time.monotonic()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
    if connection.queries_logged:  # as Django's own cursor does (CaptureQueriesContext, DEBUG)
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
