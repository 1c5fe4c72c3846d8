"""Search in message text: PostgreSQL full-text search over the index of migration
`message_text_search_index`; a plain case-insensitive "contains" elsewhere (the
embedded SQLite, where a thread is short and the table small).

What was typed is split into words; a message matches when it holds every word, in any
order, accents and case ignored ("cafe" finds "Café"). The last word, the one being
typed, also matches as the start of a longer one ("damaged deliv" finds "delivery was
damaged") when it has three letters or more. Only the last: a prefix makes the index
read every lexeme it starts and merge their lists, several times slower than the
intersection of whole words (bench/inbox.py: 70 ms against 20 for two common words).
"""

import math
import re

from django.contrib.postgres.search import SearchQuery, SearchVectorExact, SearchVectorField
from django.db import connection
from django.db.models import F, Func, Q

# The text search configuration of the migration: `simple` (no stemming, no stop words:
# any language's words as written) after `unaccent`.
CONFIG = "switchboard_text"
_WORDS = re.compile(r"[^\W_]+")
_MIN_PREFIX = 3
_MAX_WORDS = 8  # beyond this a search reads like a pasted message: the first words do


# The message's document, to_tsvector(CONFIG, text), stored by PostgreSQL in this
# column (generated, not a model field: SQLite has none) and indexed.
DOCUMENT_COLUMN = "search_document"


class MessageDocument(Func):
    """The stored document of the message whose `text` column is given: the same
    table alias (subqueries alias it), the document's column."""

    output_field = SearchVectorField()

    def as_sql(self, compiler, connection, **extra_context):
        text, params = compiler.compile(self.source_expressions[0])
        table = text.removesuffix(connection.ops.quote_name("text"))
        if table == text:
            raise ValueError(f"Not a message's text column: {text}")
        return table + connection.ops.quote_name(DOCUMENT_COLUMN), params


def full_text() -> bool:
    """Whether the database has the full-text index (PostgreSQL)."""
    return connection.vendor == "postgresql"


def search_words(search: str) -> list[str]:
    """The words of `search`, in order, each once."""
    return list(dict.fromkeys(_WORDS.findall(search)))[:_MAX_WORDS]


def message_text_matches(search: str) -> Q:
    """The messages whose text holds every word of `search` (none if it has no words)."""
    words = search_words(search)
    if not words:
        return Q(pk__in=[])
    if not full_text():
        return Q(*(Q(text__icontains=word) for word in words))
    return Q(SearchVectorExact(MessageDocument(F("text")), _query(words)))


# The share of messages above which a search's words count as common (see
# message_text_share): walking the inbox in order then finds a page sooner than
# collecting every match. Measured with bench/inbox.py over a million messages.
COMMON_SHARE = 0.01
# The statistics ANALYZE keeps of the documents' lexemes: the most common ones with the
# share of messages holding each. A word counts for what its lexeme holds, and a word
# matched as a prefix for every lexeme it starts; several words are taken as
# independent, as PostgreSQL's planner takes them (a message must hold them all). A
# word not among them is rarer than all of them: 0.
_SHARE_SQL = """
    SELECT least(coalesce(sum(stats.freq), 0), 1)
    FROM unnest(%s::text[], %s::boolean[]) AS typed(word, prefix)
    CROSS JOIN LATERAL (SELECT lower(unaccent(typed.word)) AS lexeme) normal
    LEFT JOIN (
        SELECT element.lexeme, element.freq
        FROM pg_stats, unnest(
            most_common_elems::text::text[], most_common_elem_freqs
        ) AS element(lexeme, freq)
        WHERE pg_stats.schemaname = current_schema()
            AND pg_stats.tablename = 'conversations_message' AND pg_stats.attname = %s
    ) stats ON stats.lexeme = normal.lexeme
        OR (typed.prefix AND starts_with(stats.lexeme, normal.lexeme))
    GROUP BY typed.word
"""


def message_text_share(search: str) -> float:
    """About what share of messages (0 to 1) hold the words of `search`, from
    PostgreSQL's statistics of the documents (one small query, no scan); 0 elsewhere."""
    words = search_words(search)
    if not words or not full_text():
        return 0.0
    with connection.cursor() as cursor:
        cursor.execute(_SHARE_SQL, [words, _prefixes(words), DOCUMENT_COLUMN])
        return math.prod(float(share) for (share,) in cursor.fetchall())


def _prefixes(words: list[str]) -> list[bool]:
    """Which words match as the start of a longer one: the last, if long enough."""
    return [n == len(words) - 1 and len(word) >= _MIN_PREFIX for n, word in enumerate(words)]


def _query(words: list[str]) -> SearchQuery:
    # Quoted lexemes: whatever was typed is never read as tsquery syntax.
    terms = [
        f"'{word}'{':*' if prefix else ''}"
        for word, prefix in zip(words, _prefixes(words), strict=True)
    ]
    return SearchQuery(" & ".join(terms), search_type="raw", config=CONFIG)
