"""Database helpers the apps share."""

from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models import Model


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
