"""Database helpers shared by the apps: the hot paths' bulk insert and update, rows read without the
ORM, row check and advisory locks, the erasure's JSON search.

On PostgreSQL the bulk helpers send every column as one binary array (`rows_unnest`, run by
`binary_rows`): Django's bulk_update builds a CASE WHEN per row and field, its bulk_create sends text
arrays that psycopg escapes element by element with a regular expression, and both prepare every
value (docs/benchmarks.md). Elsewhere (SQLite, embedded mode) they are Django's own.
"""

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

import orjson
from django.db import connection, models
from django.db.models import Q
from django.db.models.functions import Cast
from django.db.models.lookups import IContains
from django.utils import timezone

M = TypeVar("M", bound=models.Model)


def binary_rows(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Run one statement on Django's connection (in its transaction) with every parameter and result in
    binary (`%b`: arrays travel as such, no text escaping); its rows ([] for a statement without).

    Logged as Django's own cursor does (CaptureQueriesContext, DEBUG), and psycopg's errors become
    Django's (`django.db.IntegrityError` for a unique violation, as the ORM raises it). PostgreSQL only.
    """
    import psycopg

    connection.ensure_connection()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, binary=True)
        rows = cursor.fetchall() if cursor.description is not None else []
    if connection.queries_logged:
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return rows


def model_fields(
    model: type[models.Model], names: Iterable[str] | None = None
) -> list[models.Field[Any, Any]]:
    """The concrete fields of `model` by name ("pk": the primary key); None: those an insert writes
    (every concrete field but the primary key and generated ones)."""
    meta = model._meta
    if names is None:
        return [f for f in meta.concrete_fields if f is not meta.pk and not f.generated]
    fields = []
    for name in names:
        field = meta.pk if name == "pk" else meta.get_field(name)
        assert isinstance(field, models.Field), name
        assert field.concrete, name
        fields.append(field)
    return fields


# Fields whose Python value is what PostgreSQL stores (exact classes: a subclass such as an encrypted
# field prepares its values), and JSON written by orjson: `rows_unnest` sends their values as they are
# instead of through each field's get_db_prep_save (~1 µs a value, a tenth of the processor's
# write-back, docs/benchmarks.md).
_PLAIN_FIELDS = frozenset(
    {
        models.AutoField,
        models.BigAutoField,
        models.BigIntegerField,
        models.BooleanField,
        models.CharField,
        models.DateTimeField,
        models.ForeignKey,
        models.IntegerField,
        models.PositiveIntegerField,
        models.TextField,
    }
)


def json_text(value: Any) -> str | None:
    """A JSON field's value as the text PostgreSQL parses into jsonb (None: SQL NULL, as Django stores
    it). orjson, ~10 times json.dumps; what orjson cannot write (an integer beyond 64 bits, a key that
    is not a string) goes through json.dumps, as Django would write it."""
    if value is None:
        return None
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def json_value(text: str | None) -> Any:
    """A JSON column read as text (`col::text`), decoded by orjson (json.loads for what orjson refuses:
    an integer beyond 64 bits)."""
    if text is None:
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


@cache
def _column_of(field: models.Field[Any, Any]) -> tuple[str, str, Callable[[Any], Any] | None]:
    """How a field's values travel: (array type, cast of an element, converter of a Python value;
    None: as it is)."""
    if type(field) is models.JSONField and field.encoder is None:
        return "text", "::jsonb", json_text
    if type(field) in _PLAIN_FIELDS:
        return field.db_type(connection) or "text", "", None
    return field.db_type(connection) or "text", "", lambda value: field.get_db_prep_save(value, connection)


@dataclass(frozen=True)
class Unnested:
    """Rows as one binary array per column, to select from: `source` is `unnest(%b::type[], ...) AS
    alias(col, ...)` (`WITH ORDINALITY`: a last column `n`, the row's position from 1), `columns` the
    quoted column names, `values` what to select for each (`alias.col`, JSON cast to jsonb), `params`
    the arrays, in the order of `source`'s placeholders."""

    source: str
    columns: list[str]
    values: list[str]
    params: list[list[Any]]

    def update_sets(self) -> str:
        """`SET` of an update from rows whose first column is the primary key: every other column."""
        return ", ".join(
            f"{name} = {value}" for name, value in zip(self.columns[1:], self.values[1:], strict=True)
        )

    def update_match(self, table: str = "t") -> str:
        """`WHERE` of that update: the table's primary key (aliased `table`) is the rows' first column."""
        return f"{table}.{self.columns[0]} = {self.values[0]}"


def columns_unnest(
    fields: Sequence[models.Field[Any, Any]],
    columns: Sequence[Sequence[Any]],
    *,
    alias: str = "x",
    ordinality: bool = False,
) -> Unnested:
    """One column of Python values per field (as the model holds them) as `Unnested` rows: plain fields
    (`_PLAIN_FIELDS`) go as they are, JSON by orjson, others through Django's get_db_prep_save.
    PostgreSQL."""
    quote = connection.ops.quote_name
    names = [quote(field.column) for field in fields]
    types, values, params = [], [], []
    for field, name, column in zip(fields, names, columns, strict=True):
        array_type, cast, convert = _column_of(field)
        types.append(f"%b::{array_type}[]")
        values.append(f"{alias}.{name}{cast}")
        if convert is not None:
            params.append([convert(value) for value in column])
        else:
            params.append(column if isinstance(column, list) else list(column))
    numbered = " WITH ORDINALITY" if ordinality else ""
    source = (
        f"unnest({', '.join(types)}){numbered} AS {alias}({', '.join(names + (['n'] if ordinality else []))})"
    )
    return Unnested(source, names, values, params)


def rows_unnest(
    model: type[M],
    objs: Sequence[M],
    fields: Sequence[str] | None = None,
    *,
    alias: str = "x",
    adding: bool = False,
    ordinality: bool = False,
) -> Unnested:
    """`objs` as `Unnested` rows of `fields` (`model_fields`: "pk" may be one; None: those an insert
    writes), sent as `columns_unnest` sends them; `adding`: through `pre_save` first (auto_now,
    auto_now_add), as an insert does. PostgreSQL."""
    chosen = model_fields(model, fields)
    columns = []
    for field in chosen:
        if adding and (
            type(field) not in _PLAIN_FIELDS
            or getattr(field, "auto_now", False)
            or getattr(field, "auto_now_add", False)
        ):
            columns.append([field.pre_save(obj, True) for obj in objs])
        else:
            columns.append([getattr(obj, field.attname) for obj in objs])
    return columns_unnest(chosen, columns, alias=alias, ordinality=ordinality)


def _insert_sql(
    model: type[models.Model],
    columns: Sequence[str],
    values: Sequence[str],
    source: str,
    *,
    ignore_conflicts: bool,
) -> str:
    """`INSERT INTO` the model's table `columns` `SELECT values FROM source` (`Unnested` rows)."""
    table = connection.ops.quote_name(model._meta.db_table)
    conflicts = " ON CONFLICT DO NOTHING" if ignore_conflicts else ""
    return f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}{conflicts}"  # noqa: S608 - our names, bound values


def bulk_create(model: type[M], objs: Sequence[M], *, ignore_conflicts: bool = False) -> None:
    """`model.objects.bulk_create(objs, ignore_conflicts=...)`: on PostgreSQL `INSERT ... SELECT FROM
    unnest(arrays) RETURNING id` (`rows_unnest`). Same rows: `pre_save` runs (auto_now, auto_now_add),
    the new primary keys are set (not with `ignore_conflicts`: a skipped row has none), no signal is
    sent; values, not expressions. Elsewhere, or with a primary key given: Django's bulk_create."""
    if not objs:
        return
    meta = model._meta
    if (
        connection.vendor != "postgresql"
        or not isinstance(meta.pk, models.AutoField | models.BigAutoField)
        or any(obj.pk is not None for obj in objs)
    ):
        model._default_manager.bulk_create(objs, ignore_conflicts=ignore_conflicts)
        return
    for obj in objs:  # foreign keys to objects saved since they were set, as bulk_create does first
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
    rows = rows_unnest(model, objs, adding=True)
    sql = _insert_sql(model, rows.columns, rows.values, rows.source, ignore_conflicts=ignore_conflicts)
    returning = f" RETURNING {connection.ops.quote_name(meta.pk.column)}"
    ids = [row[0] for row in binary_rows(sql + returning, rows.params)]
    if not ignore_conflicts:
        for obj, pk in zip(objs, ids, strict=True):  # RETURNING gives the rows in the order inserted
            obj.pk = pk
    rows_saved(objs)


def rows_saved(objs: Iterable[models.Model]) -> None:
    """Mark model instances as stored (as the ORM does after an insert)."""
    for obj in objs:
        obj._state.adding = False
        obj._state.db = connection.alias


def bulk_update(model: type[M], objs: Sequence[M], fields: Sequence[str]) -> None:
    """`model.objects.bulk_update(objs, fields)`: on PostgreSQL one UPDATE ... FROM unnest(arrays)
    (`rows_unnest`) joined on the primary key.

    Django's bulk_update writes `SET f = CASE WHEN id = 1 THEN ... WHEN id = 2 ...` for every field:
    building that expression was half of the processor's time (docs/benchmarks.md), and PostgreSQL
    evaluates it in O(rows x rows). Same values, same rows; like bulk_update, no `pre_save` (auto_now).
    """
    if not objs:
        return
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update(objs, list(fields))
        return
    rows = rows_unnest(model, objs, ["pk", *fields])
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"UPDATE {table} AS t SET {rows.update_sets()} FROM {rows.source}"  # noqa: S608 - our names
    binary_rows(f"{sql} WHERE {rows.update_match()}", rows.params)


def bulk_insert(
    model: type[models.Model], columns: Mapping[str, Sequence[Any]], *, ignore_conflicts: bool = False
) -> None:
    """Insert rows given as columns, `{"survey_id": [...], "due_at": [...]}` (by attribute name, one
    list per field, all of one length); every other field takes its default (one value for the whole
    statement: `created_at` defaulting to `timezone.now` is the same moment for every row).

    For rows that are only written, never read back: `bulk_create` needs a model object per row and
    runs `pre_save` on every field of every one of them, which was most of the trigger handler's
    insert of invitations (docs/benchmarks.md). Here the given columns travel as `columns_unnest`
    sends them; no `pre_save` beyond `auto_now`/`auto_now_add`, no signal. Elsewhere than PostgreSQL
    it is Django's bulk_create of the same rows.
    """
    count = len(next(iter(columns.values()), ()))
    if not count:
        return
    fields = model_fields(model)
    given = [f for f in fields if f.attname in columns]
    unknown = set(columns) - {f.attname for f in given}
    if unknown:
        raise ValueError(f"{model._meta.label} has no column {', '.join(sorted(unknown))}")
    defaulted = [f for f in fields if f.attname not in columns]
    defaults = {
        f.attname: timezone.now()
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
        else f.get_default()
        for f in defaulted
    }
    if connection.vendor != "postgresql":
        objs = [
            model(**defaults, **{name: values[i] for name, values in columns.items()}) for i in range(count)
        ]
        model._default_manager.bulk_create(objs, ignore_conflicts=ignore_conflicts)
        return

    rows = columns_unnest(given, [columns[f.attname] for f in given])
    sql = _insert_sql(
        model,
        [*rows.columns, *(connection.ops.quote_name(f.column) for f in defaulted)],
        [*rows.values, *(f"%b::{f.db_type(connection)}" for f in defaulted)],
        rows.source,
        ignore_conflicts=ignore_conflicts,
    )
    # In the statement's order: the select list (the defaults), then FROM (the arrays).
    params = [*(f.get_db_prep_save(defaults[f.attname], connection) for f in defaulted), *rows.params]
    binary_rows(sql, params)


@cache
def model_columns(model: type[models.Model], alias: str) -> str:
    """The select list that `model_from_row` builds a `model` from: every column of the table `alias`,
    in model order, JSON as text (decoded by orjson, not by Django's JSONField). PostgreSQL."""
    quote = connection.ops.quote_name
    return ", ".join(
        f"{alias}.{quote(f.column)}{'::text' if isinstance(f, models.JSONField) else ''}"
        for f in model._meta.concrete_fields
    )


@cache
def _json_positions(model: type[models.Model]) -> tuple[list[str], list[int]]:
    fields = model._meta.concrete_fields
    return [f.attname for f in fields], [n for n, f in enumerate(fields) if isinstance(f, models.JSONField)]


def model_from_row(model: type[M], row: Sequence[Any]) -> M:
    """A `model` from a row of `model_columns`, as the ORM would load it but without its query building
    and per-value conversion (a third of the time of loading a hundred people, docs/benchmarks.md)."""
    attnames, json_columns = _json_positions(model)
    values = list(row)
    for n in json_columns:
        values[n] = json_value(values[n])
    return model.from_db(connection.alias, attnames, values)


def advisory_locks(keys: Sequence[str]) -> None:
    """Take a transaction-level advisory lock per key (held until the transaction ends), in one
    statement and in hash order, so that two transactions locking overlapping keys never wait for
    each other in a circle. The key's 64-bit hash is locked: a collision only means an extra wait.
    The keys travel as one binary array (`binary_rows`). PostgreSQL only; elsewhere (SQLite in
    embedded mode: one writer at a time) there is nothing to do.
    """
    if not keys or connection.vendor != "postgresql":
        return

    sql = (
        "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(key, 0) AS k"
        " FROM unnest(%b::text[]) AS key ORDER BY 1) AS keys"
    )
    binary_rows(sql, [list(keys)])


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
    fields = model_fields(model, names)
    quote = connection.ops.quote_name
    where = " AND ".join(f"{quote(field.column)} = %s" for field in fields)
    return f"SELECT 1 FROM {quote(model._meta.db_table)} WHERE {where} LIMIT 1", fields  # noqa: S608 - model names
