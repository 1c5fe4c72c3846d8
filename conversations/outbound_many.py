"""Many queued outbound messages at once (messaging's batch send): the same rows and
conversation changes as `batch.outbound_create`, in a few statements for the batch
instead of a few per message."""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from conversations.batch import _OUTBOUND_CONVERSATION_FIELDS, outbound_note
from conversations.models import Conversation, Direction, Message
from providers.events import MessageStatus, MessageType
from tenants.db import rows_insert, rows_update, rows_update_together
from tenants.models import Channel


@dataclass(frozen=True)
class OutboundDraft:
    conversation_id: int
    type: MessageType
    text: str = ""
    payload: dict | None = None
    context: dict | None = None


def outbound_create_many(*, drafts: list[OutboundDraft]) -> list[Message]:
    """The messages, queued, in the order given: their conversations locked in id order
    (the order every other writer locks them in), one insert for the messages, one
    statement for the conversations' updates."""
    if not drafts:
        return []
    with transaction.atomic():
        locked = _locked({d.conversation_id for d in drafts})
        now = timezone.now()  # the thread's order: when we wrote them
        if connection.vendor == "postgresql":
            messages = _inserted(drafts, locked, now)
        else:
            messages = Message.objects.bulk_create([_built(d, locked, now) for d in drafts])
        for message in messages:
            outbound_note(locked[message.conversation_id], message)
        for row in locked.values():
            row.updated_at = now  # auto_now is the ORM's save's; this is one statement
        if connection.vendor == "postgresql":
            rows_update_together(list(locked.values()), _OUTBOUND_CONVERSATION_FIELDS)
        else:
            rows_update(list(locked.values()), _OUTBOUND_CONVERSATION_FIELDS)
    return messages


def _locked(ids: set[int]) -> dict[int, Conversation]:
    """The conversations, locked, each with its channel (the window policy): the
    channels read once, not joined to every row (a batch's conversations share a
    few, and each copy decrypts its credentials)."""
    rows = list(Conversation.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    channels = Channel.objects.in_bulk({row.channel_id for row in rows})
    cache = Conversation.channel.field
    for row in rows:
        cache.set_cached_value(row, channels[row.channel_id])
    return {row.pk: row for row in rows}


def _built(draft: OutboundDraft, locked: dict[int, Conversation], now: datetime) -> Message:
    """The message as the single send (`outbound_create`) writes it."""
    conversation = locked[draft.conversation_id]
    return Message(
        organization_id=conversation.organization_id,
        channel_id=conversation.channel_id,
        conversation=conversation,
        direction=Direction.OUTBOUND,
        type=draft.type,
        text=draft.text,
        payload=draft.payload or {},
        context=draft.context or {},
        status=MessageStatus.QUEUED,
        occurred_at=now,
    )


def _inserted(
    drafts: list[OutboundDraft], locked: dict[int, Conversation], now: datetime
) -> list[Message]:
    """PostgreSQL: the same rows as _built's, inserted with one array per column (a
    batch's Message instances and its ~6,000-value statement were 42 % of a campaign
    batch, bench/campaigns.py), then the instances made from what was written."""
    conversations = [locked[d.conversation_id] for d in drafts]
    columns = {
        "organization_id": [c.organization_id for c in conversations],
        "channel_id": [c.channel_id for c in conversations],
        "conversation_id": [d.conversation_id for d in drafts],
        "direction": [Direction.OUTBOUND] * len(drafts),
        "type": [d.type for d in drafts],
        "text": [d.text for d in drafts],
        "payload": [d.payload or {} for d in drafts],
        "context": [d.context or {} for d in drafts],
        "status": [MessageStatus.QUEUED] * len(drafts),
        "occurred_at": [now] * len(drafts),
    }
    ids = rows_insert(Message, columns, now=now)
    makers = [_maker(field, columns, now) for field in Message._meta.concrete_fields]
    cache = Message.conversation.field
    messages = []
    for index, pk in enumerate(ids):
        values = [make(index, pk) for make in makers]
        message = Message.from_db(connection.alias, None, values)
        cache.set_cached_value(message, conversations[index])
        messages.append(message)
    return messages


def _maker(field, columns: dict[str, list], now: datetime):
    """How the instance's value of `field` is had: the row's id, its column's value,
    or what Message() would hold (a fresh {} or [] each time, as Message() makes them;
    `now` for the auto_now fields, as rows_insert wrote)."""
    if field.primary_key:
        return lambda index, pk: pk
    if field.attname in columns:
        values = columns[field.attname]
        return lambda index, pk: values[index]
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda index, pk: now
    if callable(field.default):
        return lambda index, pk: field.get_default()
    default = field.get_default()
    return lambda index, pk: default
