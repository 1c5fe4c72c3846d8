"""Leave a fifth of each page of conversations_message free, on PostgreSQL, so that an
UPDATE touching no indexed column (the send's claim, `send_claimed_at`, in no index) can
be HOT: the new row version goes on the same page and none of the table's ten indexes
(the GIN over `search_document` among them) gets an entry. With full pages (the
default, 100) freshly inserted outbound messages had no room, and 78% of the claims
wrote every index (bench/outbound.py, docs/performance.md).

Only pages written from now on are filled to 80%; existing ones stay as they are until
rewritten (VACUUM FULL, pg_repack), which this does not do: it takes no long lock.
"""

from django.db import migrations

FILLFACTOR = 80


def set_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE conversations_message SET (fillfactor = {FILLFACTOR})")


def reset_fillfactor(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE conversations_message RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0013_contact_erasure")]

    operations = [migrations.RunPython(set_fillfactor, reset_fillfactor)]
