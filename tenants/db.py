"""Database helpers the apps share."""

from django.db import connection
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
