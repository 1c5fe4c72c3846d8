"""Writes for contacts, conversations and messages.

Every function here may be called more than once with the same input (webhooks are
redelivered, workers crash and retry) and must leave the same result: provider message
ids are unique per channel, statuses only move forward, the window only moves with a
newer customer message. Writes to one conversation are serialized by locking its row.

The rules live in `conversations.batch`, which applies many events at once; the
functions here are the one-at-a-time doors to it.
"""

from conversations.batch import Inbound, MissingContactError, Status, events_apply
from providers.events import InboundMessage, MessageStatusUpdate
from tenants.models import Channel

__all__ = ["MissingContactError", "inbound_message_apply", "message_status_apply"]


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
