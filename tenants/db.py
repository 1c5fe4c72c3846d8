"""Database helpers the apps share."""

import re
from contextlib import contextmanager
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models import JSONField, Model


def rows_update(objects: list[Model], fields: list[str]) -> None:
    """Save `fields` of each object: one UPDATE per row, sent together (psycopg 3
    pipelines executemany into one round trip) and bound server-side (one statement
    and the values, instead of every row's statement with its values quoted in).

    Django's bulk_update builds a CASE expression per object and field, which cost
    more than the whole rest of a processing batch (bench/apply.py, profiled).
    """
    if not objects:
        return
    db = connections[DEFAULT_DB_ALIAS]  # once: each use of the `connection` proxy costs
    meta = objects[0]._meta
    columns = [meta.get_field(name) for name in fields]
    quote = db.ops.quote_name
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608 - names from the model
    rows = [
        [column.get_db_prep_save(getattr(obj, column.attname), db) for column in columns] + [obj.pk]
        for obj in objects
    ]
    with server_bound_cursor(db) as cursor:
        cursor.executemany(sql, rows)


def rows_insert(model: type[Model], columns: dict[str, list], *, now: datetime) -> list[int]:
    """Insert one row per position of `columns` (attname -> its values, all lists of one
    length) in one statement, PostgreSQL only; returns the new ids in that order.

    Every other field takes what a `model(...)` built without it would hold: its default
    (a callable one called once for all the rows), `now` where the field is auto_now or
    auto_now_add. Values go as one array per column (INSERT ... SELECT FROM unnest),
    bound server-side in binary: a batch's ~6,000 values in Django's bulk_create cost
    more in the quoting of its statement than in the database (bench/campaigns.py).
    The values are as the database takes them (ids, not instances); JSON is encoded here.
    """
    db = connections[DEFAULT_DB_ALIAS]
    meta, quote = model._meta, db.ops.quote_name
    fields = [f for f in meta.concrete_fields if f is not meta.pk and not f.generated]
    names, selected, fixed, arrays, types = [], [], [], [], []
    for field in fields:
        names.append(quote(field.column))
        kind = _array_type(field, db)
        if field.attname in columns:
            prepared = _prepared_values(field, columns[field.attname], db)
            arrays.append(prepared)
            types.append(f"%b::{kind}[]")
            selected.append(f"v.c{len(arrays)}")
        else:
            auto = getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)
            fixed.append(field.get_db_prep_save(now if auto else field.get_default(), db))
            selected.append(f"%b::{kind}")
    aliases = ", ".join(f"c{n}" for n in range(1, len(arrays) + 1))
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(names)}) "  # noqa: S608 - names from the model
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(types)}) AS v({aliases}) "
        f"RETURNING {quote(meta.pk.column)}"
    )
    # The placeholders in the statement's order: the fixed ones in the SELECT list,
    # then the arrays in FROM.
    with server_bound_cursor(db) as cursor:
        cursor.execute(sql, [*fixed, *arrays])
        return [row[0] for row in cursor.fetchall()]


def rows_update_together(objects: list[Model], fields: list[str]) -> None:
    """Save `fields` of each object (distinct rows) in one UPDATE ... FROM unnest(...),
    PostgreSQL only: one array per field, bound server-side (see rows_insert). For
    the hundreds of rows of a batch, where rows_update's statement per row adds up."""
    if not objects:
        return
    db = connections[DEFAULT_DB_ALIAS]
    meta, quote = objects[0]._meta, db.ops.quote_name
    columns = [meta.pk, *(meta.get_field(name) for name in fields)]
    arrays = [[obj.pk for obj in objects]]
    arrays += [
        _prepared_values(column, [getattr(obj, column.attname) for obj in objects], db)
        for column in columns[1:]
    ]
    assignments = ", ".join(f"{quote(c.column)} = v.{quote(c.column)}" for c in columns[1:])
    types = ", ".join(f"%b::{_array_type(c, db)}[]" for c in columns)
    aliases = ", ".join(quote(c.column) for c in columns)
    pk = quote(meta.pk.column)
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 - names from the model
        f"FROM unnest({types}) AS v({aliases}) WHERE t.{pk} = v.{pk}"
    )
    with server_bound_cursor(db) as cursor:
        cursor.execute(sql, arrays)


def _array_type(field, db: BaseDatabaseWrapper) -> str:
    """The column's type without its length: an explicit cast to varchar(n) would cut a
    longer value short, where the assignment to the column refuses it, as the ORM's
    statements do."""
    return re.sub(r"\(.*\)", "", field.db_type(db))


def _prepared_values(field, values: list, db: BaseDatabaseWrapper) -> list:
    # Only JSON needs the backend's adapter; the other types are bound as they are.
    if isinstance(field, JSONField):
        return [field.get_db_prep_save(value, db) for value in values]
    return values


@contextmanager
def server_bound_cursor(using: BaseDatabaseWrapper):
    """A cursor that sends values apart from the statement (PostgreSQL), in the
    connection's current transaction; Django's own cursor on other databases."""
    with using.cursor() as cursor:  # connects and health-checks as usual
        if using.vendor != "postgresql":
            yield cursor
            return
        with _bound_cursor(using) as bound:
            yield bound


@contextmanager
def _bound_cursor(using: BaseDatabaseWrapper):
    """On the open connection, with Django's translation of database errors."""
    with using.wrap_database_errors, ServerBindingCursor(using.connection) as bound:
        yield bound


def fetchone_prepared(sql: str, params: list, *, using: BaseDatabaseWrapper) -> tuple | None:
    """Run an idempotent statement that a process repeats at a high rate (the webhook
    INSERT) in one round trip.

    It binds server-side, so that PostgreSQL plans it once per connection (psycopg
    prepares it from its fifth run; DATABASE_PREPARE_THRESHOLD); Django's cursors bind
    client-side, sending the whole statement with its values inlined every time. And
    it skips the health-check query Django runs before a request's first statement
    (CONN_HEALTH_CHECKS): a connection found dead is replaced and the statement run
    again, which its idempotence allows.
    """
    if using.vendor != "postgresql":
        with using.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    try:
        return _fetchone_bound(sql, params, using)
    except OperationalError:
        if using.in_atomic_block:
            raise  # the transaction is lost with its connection: not ours to redo
        using.close()
        return _fetchone_bound(sql, params, using)


def _fetchone_bound(sql: str, params: list, using: BaseDatabaseWrapper) -> tuple | None:
    using.ensure_connection()  # not using.cursor(): that would health-check first
    with _bound_cursor(using) as bound:
        bound.execute(sql, params)
        return bound.fetchone()
