"""Each event's writing transaction id (PostgreSQL), and the readers' cursors.

The column is not a model field: PostgreSQL fills it in (`pg_current_xact_id()`) and
only outbox.readers reads it. SQLite, which lets one writer at a time commit, needs
none: its ids are committed in order.
"""

from django.db import migrations, models

ADD_XID = """
ALTER TABLE outbox_outboxevent
    ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX outbox_xid_id ON outbox_outboxevent (xid, id);
"""
DROP_XID = """
DROP INDEX IF EXISTS outbox_xid_id;
ALTER TABLE outbox_outboxevent DROP COLUMN IF EXISTS xid;
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("outbox", "0001_initial")]

    operations = [
        migrations.RunPython(_on_postgresql(ADD_XID), _on_postgresql(DROP_XID)),
        migrations.CreateModel(
            name="OutboxCursor",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True)),
                ("xid", models.BigIntegerField(default=0)),
                ("event_id", models.BigIntegerField(default=0)),
                ("updated_at", models.DateTimeField(auto_now=True)),
            ],
        ),
    ]
