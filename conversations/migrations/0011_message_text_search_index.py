"""Full-text search over message text, on PostgreSQL: a text search configuration that
folds accents and case (`switchboard_text`: the `simple` dictionary, no stemming and no
stop words, so any word of any language is found as written, after `unaccent`), each
message's document in it, and a GIN index over those (conversations.text_search).

A stored generated column, not an expression index: a search for a common word asks
each conversation's messages in turn, and reading a stored document instead of
computing it from the text made that 5 to 7 times faster (bench/inbox.py, a million
messages: 12.7 ms against 68.4 for a word in 2.6% of them, 200 conversations deep),
for about 120 bytes more per message. Adding it rewrites the table under lock (about
40 s a million messages). Not a model field: other databases (the embedded SQLite)
have no such column and search message text without it.
"""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations, models

CONFIG = "switchboard_text"
COLUMN = "search_document"
INDEX = "message_text_search"


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        f"DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_ts_config WHERE cfgname = '{CONFIG}') "
        f"THEN CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = pg_catalog.simple); "
        f"ALTER TEXT SEARCH CONFIGURATION {CONFIG} "
        "ALTER MAPPING FOR asciiword, asciihword, hword_asciipart, word, hword, hword_part "
        "WITH unaccent, simple; END IF; END $$"
    )
    schema_editor.execute(
        f"ALTER TABLE conversations_message ADD COLUMN IF NOT EXISTS {COLUMN} tsvector "
        f"GENERATED ALWAYS AS (to_tsvector('{CONFIG}'::regconfig, text)) STORED"
    )
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON conversations_message USING gin ({COLUMN})"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
    schema_editor.execute(f"ALTER TABLE conversations_message DROP COLUMN IF EXISTS {COLUMN}")
    schema_editor.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0010_conversation_notes")]

    operations = [
        UnaccentExtension(),
        migrations.RunPython(create, drop),
        migrations.AddIndex(
            model_name="message",
            index=models.Index(
                condition=models.Q(("error_code", ""), _negated=True),
                fields=["error_code"],
                name="message_error_code",
            ),
        ),
    ]
