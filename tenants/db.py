"""Database helpers the apps share."""

from django.db import OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.postgresql.base import ServerBindingCursor
from django.db.models import Model


def rows_update(objects: list[Model], fields: list[str]) -> None:
    """Save `fields` of each object: one UPDATE per row, sent together (psycopg 3
    pipelines executemany into one round trip).

    Django's bulk_update builds a CASE expression per object and field, which cost
    more than the whole rest of a processing batch (bench/apply.py, profiled).
    """
    if not objects:
        return
    meta = objects[0]._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(column.column)} = %s" for column in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608 - names from the model
    rows = [
        [column.get_db_prep_save(getattr(obj, column.attname), connection) for column in columns]
        + [obj.pk]
        for obj in objects
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


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
    using.ensure_connection()
    with using.wrap_database_errors, ServerBindingCursor(using.connection) as bound:
        bound.execute(sql, params)
        return bound.fetchone()
