"""Opt-out, opt-in and help keywords in customers' messages, applied with the batch
that files them (conversations.batch): a few queries per batch, none per message.

A message is a keyword when its whole text, ignoring case and runs of whitespace, is
one: "stop" and " Stop  All " are, "stop by tomorrow" is not. Only inbound text
messages filed for the first time count (a redelivered message is a "duplicate" and
is not seen here). An organization's own keywords (any language) come first, then the
defaults. Keywords of one batch apply in the order the customer wrote them.

Opt-out and opt-in change both scopes of the channel's kind (see consent_models); help
changes nothing. Each keyword message gets its reply recorded as a pending AutoReply in
this same transaction when its channel sends keyword replies; the caller's
`on_replies_pending` sends them once the transaction commits, and the messaging sweep
sends any whose sender died.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from conversations.consent import BOTH_SCOPES, ConsentUpdate, consent_changes_apply
from conversations.consent_models import (
    DEFAULT_REPLY_TEXTS,
    AutoReply,
    ConsentKeyword,
    ConsentSource,
    ConsentState,
    KeywordClass,
    KeywordReplyTexts,
)
from conversations.models import Direction, Message
from providers import channel_kind
from providers.events import MessageType

DEFAULT_KEYWORDS: dict[str, KeywordClass] = {
    **dict.fromkeys(
        ("STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"),
        KeywordClass.OPT_OUT,
    ),
    **dict.fromkeys(["START", "YES", "UNSTOP"], KeywordClass.OPT_IN),
    **dict.fromkeys(["HELP", "INFO"], KeywordClass.HELP),
}
# Longer texts are never keywords: they are not looked at.
MAX_KEYWORD_LENGTH = 64
# A keyword filed later than this after it was written (a reconciliation backfill)
# still changes the consent, but gets no reply: a "you are unsubscribed" days late
# confuses more than it confirms.
REPLY_MAX_AGE = timedelta(hours=24)
_STATE_OF = {
    KeywordClass.OPT_OUT: ConsentState.OPTED_OUT,
    KeywordClass.OPT_IN: ConsentState.SUBSCRIBED,
}

RepliesPending = Callable[[list[int]], None]


def normalized(text: str) -> str:
    """The form keywords are compared in: upper case, single spaces, no ends."""
    return " ".join(text.split()).upper()


@dataclass(frozen=True)
class _Match:
    message: Message
    word: str
    keyword_class: KeywordClass
    reply_text: str  # the keyword's own reply; "" for the organization's


def keywords_apply(
    *, messages: list[Message], on_replies_pending: RepliesPending | None = None
) -> list[int]:
    """Apply the keywords among `messages` (just filed, in the batch's order). Returns
    the ids of the auto-replies recorded."""
    candidates = [
        m
        for m in messages
        if m.direction == Direction.INBOUND
        and m.type == MessageType.TEXT
        and 0 < len(m.text) <= MAX_KEYWORD_LENGTH * 2  # whitespace is not counted
    ]
    if not candidates:
        return []
    matches = _matches(candidates)
    if not matches:
        return []
    matches.sort(key=lambda match: match.message.occurred_at)  # stable: batch order on ties
    consent_changes_apply(updates=[u for match in matches if (u := _update(match))])
    replies = _record_replies(matches)
    if replies and on_replies_pending is not None:
        transaction.on_commit(lambda: on_replies_pending(replies))
    return replies


def _matches(messages: list[Message]) -> list[_Match]:
    own = _own_keywords({m.organization_id for m in messages})
    matches = []
    for message in messages:
        word = normalized(message.text)
        keyword = own.get((message.organization_id, word))
        if keyword is not None:
            klass, reply = KeywordClass(keyword.keyword_class), keyword.reply_text
        elif word in DEFAULT_KEYWORDS:
            klass, reply = DEFAULT_KEYWORDS[word], ""
        else:
            continue
        matches.append(_Match(message, word, klass, reply))
    return matches


def _own_keywords(organization_ids: set[int]) -> dict[tuple[int, str], ConsentKeyword]:
    keywords = ConsentKeyword.objects.filter(organization_id__in=organization_ids)
    return {(k.organization_id, normalized(k.keyword)): k for k in keywords}


def _update(match: _Match) -> ConsentUpdate | None:
    state = _STATE_OF.get(match.keyword_class)
    if state is None:
        return None  # help: answered, nothing changes
    message = match.message
    return ConsentUpdate(
        organization_id=message.organization_id,
        contact_id=message.conversation.contact_id,
        kind=channel_kind(message.channel.provider),
        scopes=BOTH_SCOPES,
        state=state,
        source=ConsentSource.KEYWORD,
        at=message.occurred_at,
        label=match.word,
        message_id=message.pk,
    )


def _record_replies(matches: list[_Match]) -> list[int]:
    now = timezone.now()
    answered = [
        match
        for match in matches
        if match.message.channel.sends_keyword_replies
        and now - match.message.occurred_at <= REPLY_MAX_AGE
    ]
    if not answered:
        return []
    texts = _reply_texts({match.message.organization_id for match in answered})
    replies = [
        AutoReply(
            organization_id=match.message.organization_id,
            channel_id=match.message.channel_id,
            conversation_id=match.message.conversation_id,
            keyword_message=match.message,
            keyword_class=match.keyword_class,
            text=text,
            next_attempt_at=now,
            created_at=now,
        )
        for match in answered
        if (text := match.reply_text or texts(match.message.organization_id, match.keyword_class))
    ]
    return [reply.pk for reply in AutoReply.objects.bulk_create(replies)]


def _reply_texts(organization_ids: set[int]):
    """The organizations' reply per class: theirs where they set them, else ours."""
    own = {
        t.organization_id: t
        for t in KeywordReplyTexts.objects.filter(organization_id__in=organization_ids)
    }

    def text(organization_id: int, klass: KeywordClass) -> str:
        row = own.get(organization_id)
        return getattr(row, klass.value) if row is not None else DEFAULT_REPLY_TEXTS[klass]

    return text
