"""What happens to messages already in a thread: reactions on them, edits and revokes
by their sender. None of these is a message of its own: no unread count, no reopened
conversation, no new preview.

Applied by `conversations.batch` inside its transaction, with its locks (the advisory
lock of the message reacted to or changed, then the conversations' rows), a few
queries per batch whatever its size.

Order: webhooks arrive in any order, so the later of two events is decided by the
provider's time, ties broken by the event id (any fixed rule makes redeliveries and
reorderings end in the same record):
- reactions: one current reaction per reactor and message; a removal is kept as an
  empty emoji, so that an older reaction arriving late cannot bring it back;
- edits: every text the message had is kept in `revisions`, sorted by time; the
  latest is its `text`;
- a revoke marks the message deleted (its text stays for the record).
A reaction or change of a message we do not have yet is kept (the reaction row needs
no message; a change waits in PendingMessageChange) and shows once the message is
filed.

The window: Meta's rule is that the window opens "when a WhatsApp user messages you or
calls you" and resets each time they do; a reaction reaches us as one of the user's
messages (its own id and timestamp in the `messages` webhook), and Meta names no
exception, so a customer's reaction (added, changed or removed) moves the window like
any customer message. An edit or a revoke changes a message already counted (edits
within 15 minutes, revokes within two days of it, Meta says): it does not move it.
"""

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone
from django.utils.dateparse import parse_datetime

from conversations import events
from conversations.models import (
    Conversation,
    Direction,
    Message,
    MessageReaction,
    PendingMessageChange,
)
from conversations.window import window_note_customer_message
from providers.events import ChangeKind, MessageChanged
from providers.events import MessageReaction as ReactionEvent
from tenants.db import rows_update

if TYPE_CHECKING:
    from conversations.batch import Inbound, _Batch

PREVIEW_LENGTH = 200
DELETED_PREVIEW = "This message was deleted"

# (position in the batch, the item, its conversation)
Item = tuple[int, "Inbound", Conversation]


# --- reactions ----------------------------------------------------------------------


def reactions_apply(batch: "_Batch", items: list[Item]) -> dict[int, str]:
    """Record each reaction on the message it names. Returns "reacted" (it is now
    the reactor's current one) or "unchanged" (a later one is) by batch position."""
    if not items:
        return {}
    stored = _stored_reactions(items)
    new: dict[tuple, MessageReaction] = {}
    changed: dict[int, MessageReaction] = {}
    outcomes = {}
    for position, item, conversation in items:
        event: ReactionEvent = item.message
        key = (item.channel.id, event.message_id, event.reactor)
        current = stored.get(key) or new.get(key)
        if current is None:
            current = new[key] = _reaction(item, conversation)
            outcomes[position] = "reacted"
            _note_reaction(batch, current, conversation, previous="")
        elif (event.occurred_at, event.event_id) > (current.reacted_at, current.event_id):
            previous = current.emoji
            _replace(current, event)
            if current.pk:
                changed[current.pk] = current
            outcomes[position] = "reacted"
            _note_reaction(batch, current, conversation, previous=previous)
        else:
            outcomes[position] = "unchanged"
        if not event.from_me:
            window_note_customer_message(conversation, at=event.occurred_at)
            batch.changed_conversations.add(conversation.pk)
    MessageReaction.objects.bulk_create(new.values())  # the message keys are locked
    _save_reactions([changed[pk] for pk in sorted(changed)])
    return outcomes


def _note_reaction(
    batch: "_Batch", reaction: MessageReaction, conversation: Conversation, *, previous: str
) -> None:
    """message.reaction, when what the reactor shows changed: a later copy of the same
    emoji (a reconciliation's, then the webhook's) or the removal of a reaction never
    seen tells a receiver nothing."""
    if reaction.emoji == previous:
        return
    message = batch.messages.get((reaction.channel_id, reaction.message_provider_id))
    batch.events.append(
        events.message_reaction(reaction, message.pk if message else None, conversation.contact_id)
    )


def _stored_reactions(items: list[Item]) -> dict[tuple, MessageReaction]:
    keys = {
        (item.channel.id, item.message.message_id, item.message.reactor) for _, item, _ in items
    }
    rows = MessageReaction.objects.filter(
        channel_id__in={key[0] for key in keys}, message_provider_id__in={key[1] for key in keys}
    )
    found = {(r.channel_id, r.message_provider_id, r.reactor): r for r in rows}
    return {key: reaction for key, reaction in found.items() if key in keys}


def _reaction(item: "Inbound", conversation: Conversation) -> MessageReaction:
    event: ReactionEvent = item.message
    reaction = MessageReaction(
        organization_id=item.channel.organization_id,
        channel_id=item.channel.id,
        conversation=conversation,
        message_provider_id=event.message_id,
        reactor=event.reactor,
    )
    _replace(reaction, event)
    return reaction


def _replace(reaction: MessageReaction, event: ReactionEvent) -> None:
    reaction.emoji = event.emoji[:64]
    reaction.reacted_at = event.occurred_at
    reaction.event_id = event.event_id
    reaction.direction = Direction.OUTBOUND if event.from_me else Direction.INBOUND


def _save_reactions(reactions: list[MessageReaction]) -> None:
    now = timezone.now()
    for reaction in reactions:
        reaction.updated_at = now
    rows_update(reactions, ["emoji", "reacted_at", "event_id", "direction", "updated_at"])


# --- edits and revokes --------------------------------------------------------------


def changes_apply(batch: "_Batch", items: list[Item]) -> dict[int, str]:
    """Edit or revoke each message named; one not filed yet waits for it. Returns
    "edited", "revoked", "unchanged" (applied already) or "pending" by position."""
    outcomes, waiting = {}, []
    for position, item, _ in items:
        event: MessageChanged = item.message
        message = batch.messages.get((item.channel.id, event.message_id))
        if message is None:
            waiting.append(_pending(item.channel.id, event))
            outcomes[position] = "pending"
            continue
        changed = _change(batch, message, event.kind, event.text, event.occurred_at, event.event_id)
        outcomes[position] = event.kind.value if changed else "unchanged"
    PendingMessageChange.objects.bulk_create(waiting, ignore_conflicts=True)  # redeliveries
    return outcomes


def _pending(channel_id: int, event: MessageChanged) -> PendingMessageChange:
    return PendingMessageChange(
        channel_id=channel_id,
        provider_message_id=event.message_id,
        event_id=event.event_id,
        kind=event.kind,
        text=event.text,
        occurred_at=event.occurred_at,
    )


def changes_apply_pending(batch: "_Batch", created: list[Message]) -> None:
    """Changes that came before their message, applied to it now it is filed."""
    channel_ids = {m.channel_id for m in created}
    # Usually nothing waits: one cheap look before asking for every id of the batch.
    if not PendingMessageChange.objects.filter(channel_id__in=channel_ids).exists():
        return
    keys = {(m.channel_id, m.provider_message_id) for m in created}
    pending = [
        p
        for p in PendingMessageChange.objects.filter(
            channel_id__in=channel_ids, provider_message_id__in={m for _, m in keys}
        ).order_by("occurred_at", "event_id")
        if (p.channel_id, p.provider_message_id) in keys
    ]
    for change in pending:
        message = batch.messages[(change.channel_id, change.provider_message_id)]
        kind = ChangeKind(change.kind)
        _change(batch, message, kind, change.text, change.occurred_at, change.event_id)
    if pending:
        PendingMessageChange.objects.filter(pk__in=[p.pk for p in pending]).delete()


def _change(
    batch: "_Batch", message: Message, kind: ChangeKind, text: str, at: datetime, change_id: str
) -> bool:
    fields = (
        _revoke(message, at) if kind == ChangeKind.REVOKED else _edit(message, text, at, change_id)
    )
    if not fields:
        return False
    batch.changed_messages.setdefault(message.pk, set()).update(fields)
    _refresh_preview(batch, message)
    return True


def _edit(message: Message, text: str, at: datetime, change_id: str) -> list[str]:
    revisions = list(message.revisions) or [
        {"text": message.text, "at": message.occurred_at.isoformat(), "id": ""}
    ]
    if any(revision["id"] == change_id for revision in revisions):
        return []  # a redelivery
    revisions.append({"text": text, "at": at.isoformat(), "id": change_id})
    revisions.sort(key=lambda revision: (parse_datetime(revision["at"]), revision["id"]))
    latest = revisions[-1]
    message.revisions = revisions
    message.text = latest["text"]
    message.edited_at = parse_datetime(latest["at"]) if latest["id"] else None
    return ["revisions", "text", "edited_at"]


def _revoke(message: Message, at: datetime) -> list[str]:
    if message.deleted_at is not None and message.deleted_at <= at:
        return []
    message.deleted_at = at
    return ["deleted_at"]


def _refresh_preview(batch: "_Batch", message: Message) -> None:
    """The conversation's preview shows its latest message: this one, changed."""
    conversation = batch.conversations.get(message.conversation_id)
    if conversation is None or conversation.last_message_at != message.occurred_at:
        return
    conversation.last_message_preview = message_preview(message)
    batch.changed_conversations.add(conversation.pk)


def message_preview(message: Message) -> str:
    if message.deleted_at is not None:
        return DELETED_PREVIEW
    return (message.text or f"[{message.type}]")[:PREVIEW_LENGTH]
