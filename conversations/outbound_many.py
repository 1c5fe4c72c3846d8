"""Many queued outbound messages at once (messaging's batch send): the same rows and
conversation changes as `batch.outbound_create`, in a few statements for the batch
instead of a few per message."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from conversations.batch import _OUTBOUND_CONVERSATION_FIELDS, outbound_note
from conversations.models import Conversation, Direction, Message
from providers.events import MessageStatus, MessageType
from tenants.db import rows_update


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
    round trip for the conversations' updates."""
    if not drafts:
        return []
    with transaction.atomic():
        locked = {
            row.pk: row
            for row in Conversation.objects.select_for_update(of=("self",))
            .select_related("channel")
            .filter(pk__in={d.conversation_id for d in drafts})
            .order_by("pk")
        }
        now = timezone.now()  # the thread's order: when we wrote them
        messages = Message.objects.bulk_create(
            [
                Message(
                    organization_id=locked[d.conversation_id].organization_id,
                    channel_id=locked[d.conversation_id].channel_id,
                    conversation=locked[d.conversation_id],
                    direction=Direction.OUTBOUND,
                    type=d.type,
                    text=d.text,
                    payload=d.payload or {},
                    context=d.context or {},
                    status=MessageStatus.QUEUED,
                    occurred_at=now,
                )
                for d in drafts
            ]
        )
        for message in messages:
            outbound_note(locked[message.conversation_id], message)
        for row in locked.values():
            row.updated_at = now  # auto_now is the ORM's save's; this is one statement
        rows_update(list(locked.values()), _OUTBOUND_CONVERSATION_FIELDS)
    return messages
