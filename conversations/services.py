"""Writes for contacts, conversations and messages.

Every function here may be called more than once with the same input (webhooks are
redelivered, workers crash and retry) and must leave the same result: provider message
ids are unique per channel, statuses only move forward, the window only moves with a
newer customer message. Writes to one conversation are serialized by locking its row.

The rules live in `conversations.batch`, which applies many events at once; the
functions here are the one-at-a-time doors to it.

The inbox's writes (read, unread, assign, status) lock the conversation row too, and
change the row as it is under the lock, not the caller's copy: a webhook applied in
between (a new message, a reopened conversation) is never overwritten.
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from conversations import events
from conversations.accepted import Accepted, outbound_accepted_many
from conversations.batch import (
    Inbound,
    MissingContactError,
    Status,
    conversation_with,
    events_apply,
    outbound_accepted,
    outbound_create,
    outbound_failed,
)
from conversations.models import Conversation, ConversationNote, ConversationStatus, Message
from conversations.outbound_many import OutboundDraft, outbound_create_many
from outbox.services import events_record_many
from providers.events import InboundMessage, MessageStatus, MessageStatusUpdate, MessageType
from tenants.errors import field_error
from tenants.models import Channel

__all__ = [
    "Accepted",
    "MissingContactError",
    "conversation_assign",
    "conversation_mark_read",
    "conversation_mark_unread",
    "conversation_note_add",
    "conversation_status_set",
    "conversation_with",
    "inbound_message_apply",
    "message_outbound_accepted",
    "message_outbound_create",
    "message_outbound_failed",
    "message_status_apply",
    "messages_outbound_accepted",
]


def inbound_message_apply(
    *, channel: Channel, message: InboundMessage, webhook_event_id: int | None = None
) -> str:
    """File a message from a webhook (or a reconciliation) exactly once.

    Returns "created" or "duplicate".
    """
    outcomes, _ = events_apply(inbound=[Inbound(channel, message, webhook_event_id)], statuses=[])
    return outcomes[0]


def message_status_apply(*, channel: Channel, update: MessageStatusUpdate) -> str:
    """Move a message's status forward. Returns "applied", "unchanged" or "pending"
    (the message is not known yet; the status waits for it)."""
    _, outcomes = events_apply(inbound=[], statuses=[Status(channel, update)])
    return outcomes[0]


def message_outbound_create(
    *,
    conversation: Conversation,
    type: MessageType,
    text: str = "",
    payload: dict | None = None,
    context: dict | None = None,
) -> Message:
    """A message the business sends, queued; the conversation shows it at once. The
    send rules (window, template, limits) are the caller's (`messaging`)."""
    return outbound_create(
        conversation=conversation, type=type, text=text, payload=payload, context=context
    )


def messages_outbound_create(*, drafts: list[OutboundDraft]) -> list[Message]:
    """Many messages the business sends, queued at once (messaging's batch send), in the
    order given. The send rules are the caller's, as for `message_outbound_create`."""
    return outbound_create_many(drafts=drafts)


def message_outbound_accepted(
    *,
    message_id: int,
    provider_message_id: str,
    status: MessageStatus = MessageStatus.QUEUED,
    channel_id: int | None = None,
    conversation_id: int | None = None,
    sent: Message | None = None,
) -> None:
    """The provider accepted the message under this id; statuses that came for the id
    before it was known are applied now. `channel_id` and `conversation_id`, the
    message's, spare a query when the caller has them; `sent`, the message as the send
    task loaded it (with its conversation), spares reading the row again."""
    outbound_accepted(
        message_id=message_id,
        provider_message_id=provider_message_id,
        status=status,
        at=timezone.now(),
        channel_id=channel_id,
        conversation_id=conversation_id,
        sent=sent,
    )


def messages_outbound_accepted(*, accepted: list[Accepted]) -> None:
    """Many messages the provider accepted (a send task's batch), recorded in one
    transaction by the same rules as `message_outbound_accepted`; each `Accepted`
    carries the message as the send task loaded it, with its conversation."""
    outbound_accepted_many(accepted=accepted, at=timezone.now())


def message_outbound_failed(*, message_id: int, error_code: str, error_title: str) -> Message:
    """The provider refused the message for good (131047 also closes the window)."""
    return outbound_failed(
        message_id=message_id, error_code=error_code, error_title=error_title, at=timezone.now()
    )


def conversation_ref_record(*, conversation_id: int, ref: str) -> bool:
    """The provider's id for the conversation (a Unipile chat the business just started),
    kept only when it has none: the first one known wins, as inbound messages do
    (`_note_in_conversation`), so recording it again is harmless. True when stored."""
    if not ref:
        return False
    return (
        Conversation.objects.filter(pk=conversation_id, provider_conversation_ref="").update(
            provider_conversation_ref=ref[:255], updated_at=timezone.now()
        )
        == 1
    )


@transaction.atomic
def conversation_mark_read(*, conversation: Conversation) -> Conversation:
    locked = _locked(conversation)
    locked.unread_count = 0
    return _saved(locked, ["unread_count"])


@transaction.atomic
def conversation_mark_unread(*, conversation: Conversation) -> Conversation:
    """Flag it for attention again; a count already above zero is kept."""
    locked = _locked(conversation)
    locked.unread_count = max(locked.unread_count, 1)
    return _saved(locked, ["unread_count"])


@transaction.atomic
def conversation_assign(*, conversation: Conversation, assignee_id: int | None) -> Conversation:
    """Give it to an active member of its organization, or to no one (None).

    Anyone else is a VALIDATION_ERROR on `assignee`, whether or not the user exists.
    """
    assignee = None
    if assignee_id is not None:
        assignee = _member(organization_id=conversation.organization_id, user_id=assignee_id)
    locked = _locked(conversation)
    previous_id = locked.assignee_id
    locked.assignee = assignee
    if locked.assignee_id != previous_id:
        events_record_many(events=[events.conversation_assigned(locked, previous_id)])
    return _saved(locked, ["assignee"])


@transaction.atomic
def conversation_hand_off(
    *, conversation: Conversation, by_user_id: int | None, now: datetime | None = None
) -> Conversation:
    """An agent takes over from the automated responder: the bot stops answering this
    conversation, and the responder is told (`conversation.handed_off`). Taking over
    a conversation the bot is not handling changes nothing and tells no one."""
    locked = _locked(conversation)
    if not locked.bot_active:
        return locked
    locked.bot_active = False
    at = now or timezone.now()
    events_record_many(events=[events.conversation_handed_off(locked, by_user_id, at)])
    return _saved(locked, ["bot_active"])


@transaction.atomic
def conversation_bot_resume(*, conversation: Conversation) -> Conversation:
    """Give the conversation back to the automated responder: the customer's next
    messages go to it again (their events say so, `bot_active`)."""
    locked = _locked(conversation)
    if locked.bot_active:
        return locked
    locked.bot_active = True
    return _saved(locked, ["bot_active"])


@transaction.atomic
def conversation_status_set(
    *,
    conversation: Conversation,
    status: ConversationStatus,
    until: datetime | None = None,
    now: datetime | None = None,
) -> Conversation:
    """Move it to a status. Snoozed needs `until`, in the future (the unsnooze task
    reopens it then); no other status takes one, and leaving snoozed forgets it."""
    status = ConversationStatus(status)
    _check_snooze(status, until, now or timezone.now())
    locked = _locked(conversation)
    previous = locked.status
    locked.status = status
    locked.snoozed_until = until if status == ConversationStatus.SNOOZED else None
    if status != previous:
        events_record_many(events=[events.conversation_status_changed(locked, previous)])
    return _saved(locked, ["status", "snoozed_until"])


def conversation_note_add(*, conversation: Conversation, author, text: str) -> ConversationNote:
    """An internal note: stored and shown in the thread, never sent to the customer."""
    text = text.strip()
    if not text:
        raise field_error("text", "A note needs some text.", code="blank")
    return ConversationNote.objects.create(
        organization_id=conversation.organization_id,
        conversation=conversation,
        author=author,
        text=text,
    )


def _check_snooze(status: ConversationStatus, until: datetime | None, now: datetime) -> None:
    if status != ConversationStatus.SNOOZED:
        if until is not None:
            raise field_error("until", "Only a snoozed conversation takes `until`.")
        return
    if until is None:
        raise field_error("until", "Snoozing needs `until`.", code="required")
    if until <= now:
        raise field_error("until", "`until` must be in the future.")


def _member(*, organization_id: int, user_id: int):
    user = (
        get_user_model()
        .objects.filter(pk=user_id, is_active=True, memberships__organization_id=organization_id)
        .first()
    )
    if user is None:
        raise field_error("assignee", "Not a member of this organization.", code="not_a_member")
    return user


def _locked(conversation: Conversation) -> Conversation:
    """The conversation's row as it is now, locked until the transaction ends (the same
    lock webhook processing takes), with what the API shows of it."""
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("contact", "channel", "assignee")
        .get(pk=conversation.pk)
    )


def _saved(conversation: Conversation, fields: list[str]) -> Conversation:
    conversation.save(update_fields=[*fields, "updated_at"])  # auto_now: the change's time
    return conversation
