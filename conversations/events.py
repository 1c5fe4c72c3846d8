"""What conversations record in the outbox: the event drafts for messages filed, sent
and moved on, reactions changed, conversations begun, assigned and moved, windows about
to expire, consent changed. Builders only; the writers (batch.py, amendments.py,
services.py, consent.py, maintenance.py) record them in their transaction, a batch's
all in one INSERT."""

from django.db.models import Q

from conversations.models import Conversation, Direction, Message, MessageReaction
from outbox.models import OutboxEvent
from outbox.services import EventDraft
from outbox.types import (
    ConsentBody,
    ConversationAssignedBody,
    ConversationBody,
    ConversationStatusBody,
    HandedOffBody,
    MessageBody,
    MessageStatusBody,
    ReactionBody,
    WindowExpiringBody,
)


def message_filed(message: Message, conversation: Conversation) -> EventDraft:
    """A message filed from a webhook or a reconciliation: the customer's is received;
    one the business sent from the provider's own app (an echo) is sent. A received
    one says whether a bot may answer it, as the conversation said under its lock."""
    inbound = message.direction == Direction.INBOUND
    if not inbound:
        return _message_event("message.sent", message, conversation.contact_id)
    bot_active = conversation.bot_active
    return _message_event("message.received", message, conversation.contact_id, bot_active)


def message_sent(message: Message, contact_id: int) -> EventDraft:
    """The provider accepted a message we sent."""
    return _message_event("message.sent", message, contact_id)


def _message_event(
    type: str, message: Message, contact_id: int, bot_active: bool = False
) -> EventDraft:
    return EventDraft(
        type=type,
        organization_id=message.organization_id,
        channel_id=message.channel_id,
        conversation_id=message.conversation_id,
        occurred_at=message.occurred_at,
        body=MessageBody(
            message_id=message.pk,
            conversation_id=message.conversation_id,
            channel_id=message.channel_id,
            contact_id=contact_id,
            direction=message.direction,
            type=message.type,
            text=message.text,
            provider_message_id=message.provider_message_id or "",
            status=message.status,
            occurred_at=message.occurred_at,
            bot_active=bot_active,
        ),
    )


def message_status_changed(message: Message, previous: str, at) -> EventDraft:
    return EventDraft(
        type="message.status_changed",
        organization_id=message.organization_id,
        channel_id=message.channel_id,
        conversation_id=message.conversation_id,
        occurred_at=at,
        body=MessageStatusBody(
            message_id=message.pk,
            conversation_id=message.conversation_id,
            channel_id=message.channel_id,
            provider_message_id=message.provider_message_id or "",
            status=message.status,
            previous_status=previous,
            error_code=message.error_code,
            error_title=message.error_title,
            occurred_at=at,
        ),
    )


def message_reaction(
    reaction: MessageReaction, message_id: int | None, contact_id: int
) -> EventDraft:
    """A reactor's current reaction, just changed (`message_id`: ours, if filed)."""
    return EventDraft(
        type="message.reaction",
        organization_id=reaction.organization_id,
        channel_id=reaction.channel_id,
        conversation_id=reaction.conversation_id,
        occurred_at=reaction.reacted_at,
        body=ReactionBody(
            message_id=message_id,
            provider_message_id=reaction.message_provider_id,
            conversation_id=reaction.conversation_id,
            channel_id=reaction.channel_id,
            contact_id=contact_id,
            reactor=reaction.reactor,
            direction=reaction.direction,
            emoji=reaction.emoji,
            occurred_at=reaction.reacted_at,
        ),
    )


def window_expiring(row: dict, at) -> EventDraft:
    """`row`: a conversation's id, organization_id, channel_id, contact_id and
    window_expires_at."""
    return EventDraft(
        type="window.expiring",
        organization_id=row["organization_id"],
        channel_id=row["channel_id"],
        conversation_id=row["id"],
        occurred_at=at,
        body=WindowExpiringBody(
            conversation_id=row["id"],
            channel_id=row["channel_id"],
            contact_id=row["contact_id"],
            window_expires_at=row["window_expires_at"],
        ),
    )


def conversation_created(conversation: Conversation) -> EventDraft:
    return EventDraft(
        type="conversation.created",
        organization_id=conversation.organization_id,
        channel_id=conversation.channel_id,
        conversation_id=conversation.pk,
        occurred_at=conversation.created_at,
        body=ConversationBody(
            conversation_id=conversation.pk,
            channel_id=conversation.channel_id,
            contact_id=conversation.contact_id,
            status=conversation.status,
            created_at=conversation.created_at,
        ),
    )


def conversation_assigned(conversation: Conversation, previous_id: int | None) -> EventDraft:
    return EventDraft(
        type="conversation.assigned",
        organization_id=conversation.organization_id,
        channel_id=conversation.channel_id,
        conversation_id=conversation.pk,
        body=ConversationAssignedBody(
            conversation_id=conversation.pk,
            channel_id=conversation.channel_id,
            assignee_id=conversation.assignee_id,
            previous_assignee_id=previous_id,
        ),
    )


def conversation_handed_off(conversation: Conversation, by_user_id: int | None, at) -> EventDraft:
    return EventDraft(
        type="conversation.handed_off",
        organization_id=conversation.organization_id,
        channel_id=conversation.channel_id,
        conversation_id=conversation.pk,
        occurred_at=at,
        body=HandedOffBody(
            conversation_id=conversation.pk,
            channel_id=conversation.channel_id,
            by_user_id=by_user_id,
            occurred_at=at,
        ),
    )


def conversation_status_changed(conversation: Conversation, previous: str, at=None) -> EventDraft:
    return EventDraft(
        type="conversation.status_changed",
        organization_id=conversation.organization_id,
        channel_id=conversation.channel_id,
        conversation_id=conversation.pk,
        occurred_at=at,
        body=ConversationStatusBody(
            conversation_id=conversation.pk,
            channel_id=conversation.channel_id,
            status=conversation.status,
            previous_status=previous,
            snoozed_until=conversation.snoozed_until,
        ),
    )


def consent_changed(change) -> EventDraft | None:
    """A ConsentChange recorded: opted out, or subscribed (opted in); a change back to
    unknown records nothing."""
    type = {"opted_out": "contact.opted_out", "subscribed": "contact.opted_in"}.get(change.state)
    if type is None:
        return None
    return EventDraft(
        type=type,
        organization_id=change.organization_id,
        occurred_at=change.changed_at,
        body=ConsentBody(
            contact_id=change.contact_id,
            kind=change.kind,
            scope=change.scope,
            state=change.state,
            previous_state=change.previous_state,
            source=change.source,
            message_id=change.message_id,
            changed_at=change.changed_at,
        ),
    )


def contact_events_erase(*, organization_id: int, contact_id: int, conversation_ids) -> int:
    """Erasure: delete the events that carry the contact's data (their messages' text,
    their consent), those of their conversations and those naming them. The bodies'
    contact_id is not indexed: this reads the organization's retained events (days)."""
    return OutboxEvent.objects.filter(
        Q(conversation_id__in=list(conversation_ids)) | Q(body__contact_id=contact_id),
        organization_id=organization_id,
    ).delete()[0]
