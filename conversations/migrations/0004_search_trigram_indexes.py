"""Trigram indexes for inbox search (contact name, phone, provider ids), on PostgreSQL.

Django's icontains is UPPER(column) LIKE UPPER(pattern), so the name and identity value
are indexed as UPPER(...). Other databases (the embedded SQLite) search without them.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "contact_name_trgm": "conversations_contact USING gin (UPPER(name) gin_trgm_ops)",
    "contact_phone_trgm": "conversations_contact USING gin (phone gin_trgm_ops)",
    "identity_value_trgm": (
        "conversations_contactidentity USING gin (UPPER(value) gin_trgm_ops)"
    ),
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name, definition in INDEXES.items():
            schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {definition}")


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for name in INDEXES:
            schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0003_leaner_conversation_indexes")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
