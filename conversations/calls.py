"""Calls in a conversation's thread.

A call is filed as a message of type "call" (one per call, keyed by the provider's call
id like any message): the thread, its order, its preview, its unread count, the API's
message list and the admin show calls among the texts with nothing else to merge, and
the per-channel uniqueness of provider ids makes every event of one call land on the
same row. Its facts live in `payload["call"]`; every later event of the call (its end,
voicemail, recording, summary, transcript) adds to them, and `text` is redrawn from
them so the inbox reads "Missed call", "Call, 4 min 2 s", "Voicemail (24 s)".

`call_file` is how `conversations.batch` files a call inside its batch: the same locks
and the same few queries per batch as messages, nothing per call. A summary or
transcript names only its call; one that outruns the call waits as a pending status
(`PENDING_CALL_FACTS`) and is added when the call is filed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from conversations.amendments import PREVIEW_LENGTH
from conversations.models import (
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    PendingStatusUpdate,
)
from conversations.window import window_note_customer_message
from providers.events import CallEvent, CallStatus, MessageStatus, MessageType
from tenants.models import Channel

if TYPE_CHECKING:
    from conversations.batch import Inbound, _Batch

# What a call's sequel that outran its call waits as (a PendingStatusUpdate's status).
PENDING_CALL_FACTS = "call"


def call_file(
    batch: _Batch,
    item: Inbound,
    contact: Contact | None,
    by_pair: dict[tuple[int, int], Conversation],
    created: list[Message],
) -> str:
    """File a call (its first event) or add what a later event tells about it; a new
    row goes to `created` for the batch to insert. Returns "created", "updated",
    "duplicate" or "pending" (a sequel before its call)."""
    call = item.message
    message = batch.messages.get((item.channel.id, call.call_id))
    if message is None and contact is None:
        _keep_pending(item.channel, call)
        return "pending"
    if message is None:
        conversation = by_pair[(item.channel.id, contact.pk)]
        message = _new_call(item, conversation)
        batch.messages[(item.channel.id, call.call_id)] = message
        created.append(message)
        outcome = "created"
    else:
        conversation = batch.conversations[message.conversation_id]
        if not call_facts_add(batch, message, call_facts(call)):
            return "duplicate"
        outcome = "updated"
    _note_in_conversation(conversation, call, message, new=outcome == "created")
    batch.changed_conversations.add(conversation.pk)
    return outcome


def call_facts_add(batch: _Batch, message: Message, facts: dict[str, Any]) -> bool:
    """Add facts to a filed call (its text and, if it is the latest item, the
    conversation's preview redrawn). False if they told nothing new."""
    merged = call_merge(message.payload.get("call", {}), facts)
    if merged == message.payload.get("call"):
        return False
    message.payload = {**message.payload, "call": merged}
    message.text = call_text(merged)
    batch.changed_messages.setdefault(message.pk, set()).update({"payload", "text"})
    conversation = batch.conversations[message.conversation_id]
    if conversation.last_message_at == message.provider_timestamp:
        conversation.last_message_preview = message.text[:PREVIEW_LENGTH]
        batch.changed_conversations.add(conversation.pk)
    return True


def _keep_pending(channel: Channel, call: CallEvent) -> None:
    PendingStatusUpdate.objects.bulk_create(
        [
            PendingStatusUpdate(
                event_id=call.event_id,
                channel=channel,
                provider_message_id=call.call_id,
                status=PENDING_CALL_FACTS,
                occurred_at=call.occurred_at,
                details=call_facts(call),
            )
        ],
        ignore_conflicts=True,  # a redelivered sequel is kept once
    )


def _new_call(item: Inbound, conversation: Conversation) -> Message:
    call, facts = item.message, call_facts(item.message)
    return Message(
        organization_id=item.channel.organization_id,
        channel=item.channel,
        conversation=conversation,
        direction=Direction.OUTBOUND if call.from_me else Direction.INBOUND,
        type=MessageType.CALL,
        text=call_text(facts),
        payload={"call": facts},
        provider_message_id=call.call_id,
        status=MessageStatus.SENT if call.from_me else MessageStatus.RECEIVED,
        sent_at=call_started_at(call) if call.from_me else None,
        provider_timestamp=call_started_at(call),
        occurred_at=call_started_at(call),  # the thread's order, like every message
        webhook_event_id=item.webhook_event_id,
    )


def _note_in_conversation(
    conversation: Conversation, call: CallEvent, message: Message, *, new: bool
) -> None:
    """A call in its conversation: the latest activity (and preview) when it is, one
    unread item when the customer called, and the window where the customer reached out
    (Meta: a call opens it like a message does; SMS channels have none)."""
    at = message.provider_timestamp
    if conversation.last_message_at is None or at >= conversation.last_message_at:
        conversation.last_message_at = conversation.last_activity_at = at
        conversation.last_message_preview = message.text[:PREVIEW_LENGTH]
    if new and not call.from_me:
        conversation.unread_count += 1
        if conversation.status in (ConversationStatus.SNOOZED, ConversationStatus.CLOSED):
            conversation.status = ConversationStatus.OPEN  # the customer called
            conversation.snoozed_until = None
    reached_out_at = call_customer_reached_out_at(call)
    if reached_out_at is not None:
        window_note_customer_message(conversation, at=reached_out_at)
    if call.conversation_ref and not conversation.provider_conversation_ref:
        conversation.provider_conversation_ref = call.conversation_ref


def call_facts(event: CallEvent) -> dict[str, Any]:
    """What this event tells about its call, as stored in `payload["call"]`."""
    facts: dict[str, Any] = {
        "status": event.status.value if event.status else "",
        "direction": "outbound" if event.from_me else "inbound",
        "started_at": _iso(event.started_at),
        "answered_at": _iso(event.answered_at),
        "ended_at": _iso(event.ended_at),
        "duration": event.duration,
        "voicemail": event.voicemail,
        "recordings": event.recordings,
        "summary": event.summary,
        "next_steps": event.next_steps,
        "transcript": event.transcript,
    }
    return {key: value for key, value in facts.items() if value not in (None, "", [], {})}


def call_merge(stored: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """The call's facts with an event's (`call_facts`) added: a status only moves
    forward (a late "ringing" never undoes an end); recordings add up; the rest fills
    in or updates."""
    merged = dict(stored)
    for key, value in facts.items():
        if key == "status":
            if (
                not stored.get("status")
                or CallStatus(value).rank > CallStatus(stored["status"]).rank
            ):
                merged["status"] = value
        elif key == "recordings":
            known = {r.get("url") for r in stored.get("recordings", [])}
            merged["recordings"] = stored.get("recordings", []) + [
                r for r in value if r.get("url") not in known
            ]
        else:
            merged[key] = value
    return merged


def call_text(facts: dict[str, Any]) -> str:
    """One line for the inbox and search: what happened, then its summary if any."""
    outbound = facts.get("direction") == "outbound"
    status = facts.get("status", "")
    duration = facts.get("duration")
    if facts.get("voicemail"):
        seconds = facts["voicemail"].get("duration")
        headline = f"Voicemail ({_length(seconds)})" if seconds else "Voicemail"
    elif status == CallStatus.MISSED:
        headline = "Missed call" if not outbound else "Outgoing call, not answered"
    elif status == CallStatus.FAILED:
        headline = "Call failed" if not outbound else "Outgoing call, rejected or failed"
    elif status == CallStatus.RINGING:
        headline = "Incoming call" if not outbound else "Outgoing call"
    else:
        headline = "Outgoing call" if outbound else "Call"
        if duration:
            headline += f", {_length(duration)}"
    summary = " ".join(facts.get("summary", []))
    return f"{headline}: {summary}" if summary else headline


def call_customer_reached_out_at(event: CallEvent) -> datetime | None:
    """When the customer reached out by this call, for the 24-hour window: Meta opens
    (or refreshes) it when the customer calls, answered or not, and when they answer a
    call from the business. None when the event says nothing of the kind (a recording,
    summary or transcript, an unanswered call of ours)."""
    if event.status is None:
        return None
    if not event.from_me:
        return call_started_at(event)
    if event.answered_at:
        return event.answered_at
    if event.status in (CallStatus.ANSWERED, CallStatus.COMPLETED):
        return event.occurred_at
    return None


def call_started_at(event: CallEvent) -> datetime:
    return event.started_at or event.occurred_at


def _length(seconds: int | float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""
