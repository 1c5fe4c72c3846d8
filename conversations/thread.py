"""The thread as support staff read it: one page of a conversation's messages, oldest
to newest, with their reactions and the team's internal notes of the same stretch of
time, in a constant number of queries however long the conversation is.

Pages are cut by keyset (the message order, `occurred_at` then `id`), never by offset
or count: the latest page of a 10,000-message thread reads the same index range as
the one of a 10-message thread. Page k shows the notes written from its oldest
message up to the oldest message of the next newer page, so each note is on exactly
one page.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q

from conversations.models import Conversation, ConversationNote, Message
from conversations.selectors import message_reactions

PAGE_SIZE = 50
# A page never lists more notes than this (a runaway script writing notes cannot make
# the page unusable); the oldest beyond it are on the notes list.
MAX_NOTES_PER_PAGE = 200
CURSOR_SEPARATOR = "~"


@dataclass(frozen=True)
class Cursor:
    occurred_at: datetime
    message_id: int

    def __str__(self) -> str:
        return f"{self.occurred_at.isoformat()}{CURSOR_SEPARATOR}{self.message_id}"

    @classmethod
    def of(cls, message: Message) -> "Cursor":
        return cls(message.occurred_at, message.pk)

    @classmethod
    def parse(cls, raw: str | None) -> "Cursor | None":
        """A cursor from a URL; anything unreadable is None (the latest page)."""
        moment, _, message_id = (raw or "").rpartition(CURSOR_SEPARATOR)
        try:
            parsed = datetime.fromisoformat(moment.replace(" ", "+"))
            return cls(parsed, int(message_id)) if parsed.tzinfo else None
        except ValueError:
            return None


@dataclass
class ThreadPage:
    messages: list[Message]  # oldest first, each with `current_reactions`
    notes: list[ConversationNote]  # oldest first
    older: Cursor | None = None  # the link to the previous (older) page, if any
    newer: Cursor | None = None  # the link to the next (newer) page, if any
    entries: list = field(default_factory=list)  # messages and notes, in time order


def thread_page(
    *,
    conversation: Conversation,
    before: Cursor | None = None,
    after: Cursor | None = None,
    size: int | None = None,
) -> ThreadPage:
    """The page ending just before `before`, or starting just after `after`, or the
    latest page. Three queries: messages, their reactions, the notes."""
    size = size or PAGE_SIZE
    messages = Message.objects.filter(conversation=conversation)
    # `until`: the first message of the next newer page, where this page's notes end.
    if after is not None:
        rows = list(messages.filter(_later_than(after)).order_by("occurred_at", "id")[: size + 1])
        page = rows[:size]
        until = rows[size] if len(rows) > size else None
        older = Cursor.of(page[0]) if page else after
    else:
        rows = list(
            messages.filter(_earlier_than(before)).order_by("-occurred_at", "-id")[: size + 1]
        )
        page = list(reversed(rows[:size]))
        until = before
        older = Cursor.of(page[0]) if len(rows) > size else None
    newer = Cursor.of(page[-1]) if until is not None and page else None
    reactions = message_reactions(messages=page)
    for message in page:
        message.current_reactions = reactions.get(message.pk, [])
    notes = _notes(
        conversation,
        since=older.occurred_at if older else None,
        until=until.occurred_at if until is not None else None,
    )
    return ThreadPage(
        messages=page,
        notes=notes,
        older=older,
        newer=newer,
        entries=sorted(
            [*page, *notes], key=lambda entry: (_moment(entry), isinstance(entry, Message))
        ),
    )


def _earlier_than(cursor: Cursor | None) -> Q:
    if cursor is None:
        return Q()
    return Q(occurred_at__lt=cursor.occurred_at) | Q(
        occurred_at=cursor.occurred_at, id__lt=cursor.message_id
    )


def _later_than(cursor: Cursor) -> Q:
    return Q(occurred_at__gt=cursor.occurred_at) | Q(
        occurred_at=cursor.occurred_at, id__gt=cursor.message_id
    )


def _notes(
    conversation: Conversation, *, since: datetime | None, until: datetime | None
) -> list[ConversationNote]:
    notes = ConversationNote.objects.filter(conversation=conversation).select_related("author")
    if since is not None:
        notes = notes.filter(created_at__gte=since)
    if until is not None:
        notes = notes.filter(created_at__lt=until)
    return list(reversed(notes.order_by("-created_at", "-id")[:MAX_NOTES_PER_PAGE]))


def _moment(entry: Message | ConversationNote) -> datetime:
    return entry.occurred_at if isinstance(entry, Message) else entry.created_at
