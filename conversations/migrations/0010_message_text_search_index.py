"""Full-text search over message text, on PostgreSQL: a text search configuration that
folds accents and case (`switchboard_text`: the `simple` dictionary, no stemming and no
stop words, so any word of any language is found as written, after `unaccent`), and a
GIN index over each message's document in it (conversations.text_search).

An expression index, not a stored tsvector column: the query repeats the expression,
the index is the same size, and the message table (read by every thread page) stays
narrow. Other databases (the embedded SQLite) search message text without it.
"""

from django.contrib.postgres.operations import UnaccentExtension
from django.db import migrations, models

CONFIG = "switchboard_text"
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
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON conversations_message "
        f"USING gin (to_tsvector('{CONFIG}'::regconfig, text))"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
    schema_editor.execute(f"DROP TEXT SEARCH CONFIGURATION IF EXISTS {CONFIG}")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0009_message_call_kind")]

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
