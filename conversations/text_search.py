"""Search in message text: PostgreSQL full-text search over the index of migration
`message_text_search_index`; a plain case-insensitive "contains" elsewhere (the
embedded SQLite, where a thread is short and the table small).

What was typed is split into words; a message matches when it holds every word, in any
order, accents and case ignored ("cafe" finds "Café"). The last word, the one being
typed, also matches as the start of a longer one ("damaged deliv" finds "delivery was
damaged") when it has three letters or more and is not itself one of the most common
words. Only the last: a prefix makes the index read every lexeme it starts and merge
their lists, several times slower than the intersection of whole words (bench/
inbox.py: 70 ms against 20 for two common words).
"""

import math
import re
from dataclasses import dataclass

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


@dataclass(frozen=True)
class TextSearch:
    """What a search for message text asks: its words, whether the last one also
    matches as the start of a longer word, and about what share of messages (0 to 1)
    hold them all, from PostgreSQL's statistics (0 elsewhere)."""

    words: tuple[str, ...]
    prefix_last: bool = False
    share: float = 0.0


def text_search(search: str) -> TextSearch:
    """Plan a search for the words of `search`: one small query of PostgreSQL's
    statistics of the documents (no scan), none elsewhere."""
    words = tuple(search_words(search))
    if not words or not full_text():
        return TextSearch(words)
    with connection.cursor() as cursor:
        cursor.execute(_SHARE_SQL, [list(words), DOCUMENT_COLUMN])
        stats = {word: (float(whole), float(started)) for word, whole, started in cursor}
    last = words[-1]
    # A last word that is itself among the most common is taken as typed whole: its
    # prefix would make the index merge the lists of every word it starts (bench/
    # inbox.py: "damaged parcel" 26 ms in PostgreSQL with the prefix, 12 without),
    # for the few messages holding only a longer form of it.
    prefix_last = len(last) >= _MIN_PREFIX and stats[last][0] == 0
    shares = [stats[word][1 if prefix_last and word == last else 0] for word in words]
    return TextSearch(words, prefix_last, min(math.prod(shares), 1.0))


def message_text_matches(search: TextSearch) -> Q:
    """The messages whose text holds every word of `search` (none if it has no words)."""
    words = search.words
    if not words:
        return Q(pk__in=[])
    if not full_text():
        return Q(*(Q(text__icontains=word) for word in words))
    # Quoted lexemes: whatever was typed is never read as tsquery syntax.
    terms = [f"'{word}'" for word in words]
    if search.prefix_last:
        terms[-1] += ":*"
    return Q(SearchVectorExact(MessageDocument(F("text")), _raw(" & ".join(terms))))


def _raw(query: str) -> SearchQuery:
    return SearchQuery(query, search_type="raw", config=CONFIG)


# The share of messages above which a search's words count as common (see
# TextSearch.share): walking the inbox in order then finds a page sooner than
# collecting every match. Measured with bench/inbox.py over a million messages.
COMMON_SHARE = 0.01
# The statistics ANALYZE keeps of the documents' lexemes: the most common ones with the
# share of messages holding each. For each word, the share of its own lexeme and that
# of every lexeme it starts (were it matched as a prefix); a word not among them is
# rarer than all of them: 0. Several words are taken as independent, as PostgreSQL's
# planner takes them (a message must hold them all).
_SHARE_SQL = """
    SELECT typed.word,
        least(coalesce(sum(stats.freq) FILTER (WHERE stats.lexeme = normal.lexeme), 0), 1),
        least(coalesce(sum(stats.freq), 0), 1)
    FROM unnest(%s::text[]) AS typed(word)
    CROSS JOIN LATERAL (SELECT lower(unaccent(typed.word)) AS lexeme) normal
    LEFT JOIN (
        SELECT element.lexeme, element.freq
        FROM pg_stats, unnest(
            most_common_elems::text::text[], most_common_elem_freqs
        ) AS element(lexeme, freq)
        WHERE pg_stats.schemaname = current_schema()
            AND pg_stats.tablename = 'conversations_message' AND pg_stats.attname = %s
    ) stats ON starts_with(stats.lexeme, normal.lexeme)
    GROUP BY typed.word
"""
