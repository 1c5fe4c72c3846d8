"""Writes for contacts, conversations and messages.

Every function here may be called more than once with the same input (webhooks are
redelivered, workers crash and retry) and must leave the same result: provider message
ids are unique per channel, statuses only move forward, the window only moves with a
newer customer message. Writes to one conversation are serialized by locking its row.
"""

from django.db import IntegrityError, connection, transaction

from conversations.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    Direction,
    IdentityKind,
    Message,
    PendingStatusUpdate,
)
from conversations.window import window_close, window_note_customer_message
from providers.events import (
    ContactRef,
    InboundMessage,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
)
from tenants.models import Channel

# Which identity wins when a provider gives several: the most specific first.
_IDENTITY_ORDER = (
    (IdentityKind.USER_ID, "user_id"),
    (IdentityKind.WA_ID, "wa_id"),
    (IdentityKind.PHONE, "phone"),
    (IdentityKind.PROVIDER_ID, "provider_id"),
)
_STATUS_TIME_FIELD = {
    MessageStatus.SENT: "sent_at",
    MessageStatus.DELIVERED: "delivered_at",
    MessageStatus.READ: "read_at",
    MessageStatus.FAILED: "failed_at",
}
# System notices (number changes...) are not the customer writing.
_NOT_CUSTOMER_WRITING = {MessageType.SYSTEM}
WINDOW_CLOSED_ERROR = "131047"
PREVIEW_LENGTH = 200


class MissingContactError(ValueError):
    """A message named no one we could file it under."""


def contact_resolve(*, channel: Channel, ref: ContactRef) -> Contact:
    """The contact a provider's reference names on this channel, created if new.

    Known identities on the channel win; otherwise a contact of the organization with
    the same phone number (the same person on SMS and WhatsApp); otherwise a new one.
    """
    identities = [(kind, getattr(ref, attr)) for kind, attr in _IDENTITY_ORDER]
    identities = [(kind, value) for kind, value in identities if value]
    if not identities:
        raise MissingContactError("The message carries no phone, wa_id, user_id or id.")
    known = _known_identities(channel, identities)
    if known and all(key in known for key in identities):
        contact = next(known[key] for key in identities)  # a returning customer
        _fill_in(contact, ref)
        return contact
    try:
        with transaction.atomic():
            return _resolve_or_create(channel, ref, identities, known)
    except IntegrityError:
        # Another worker created the same identity a moment ago: use theirs.
        return _resolve_or_create(channel, ref, identities, _known_identities(channel, identities))


def conversation_for_contact(*, channel: Channel, contact: Contact) -> Conversation:
    """The contact's conversation on this channel, created if new, and locked: its row
    lock is held until the transaction ends, so events of one conversation are applied
    one at a time, whatever the worker count."""
    conversation, _ = (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("channel")
        .get_or_create(
            channel=channel,
            contact=contact,
            defaults={"organization_id": channel.organization_id},
        )
    )
    return conversation


@transaction.atomic(savepoint=False)  # inside a caller's transaction: all or nothing
def inbound_message_apply(
    *, channel: Channel, message: InboundMessage, webhook_event_id: int | None = None
) -> str:
    """File a message from a webhook (or a reconciliation) exactly once.

    Returns "created" or "duplicate".
    """
    # Locks in one order everywhere (message key, then conversation): no deadlocks.
    _lock_message_key(channel.id, message.message_id)
    contact = contact_resolve(channel=channel, ref=message.contact)
    conversation = conversation_for_contact(channel=channel, contact=contact)
    if Message.objects.filter(channel=channel, provider_message_id=message.message_id).exists():
        return "duplicate"
    stored = Message.objects.create(
        organization_id=channel.organization_id,
        channel=channel,
        conversation=conversation,
        direction=Direction.OUTBOUND if message.from_me else Direction.INBOUND,
        type=message.type,
        text=message.text,
        media=message.media,
        payload=message.payload,
        context=message.context,
        provider_message_id=message.message_id,
        status=MessageStatus.SENT if message.from_me else MessageStatus.RECEIVED,
        sent_at=message.occurred_at if message.from_me else None,
        provider_timestamp=message.occurred_at,
        webhook_event_id=webhook_event_id,
    )
    _note_in_conversation(conversation, message)
    _apply_pending_statuses(stored)
    return "created"


@transaction.atomic(savepoint=False)
def message_status_apply(*, channel: Channel, update: MessageStatusUpdate) -> str:
    """Move a message's status forward. Returns "applied", "unchanged" or "pending"
    (the message is not known yet; the status waits for it)."""
    _lock_message_key(channel.id, update.message_id)
    found = (
        Message.objects.filter(channel=channel, provider_message_id=update.message_id)
        .values_list("id", "conversation_id")
        .first()
    )
    if found is None:
        _keep_pending(channel, update)
        return "pending"
    message_id, conversation_id = found
    conversation = _locked(conversation_id)
    message = Message.objects.get(pk=message_id)
    changed = _advance(
        message,
        status=update.status,
        at=update.occurred_at,
        error_code=update.error_code,
        error_title=update.error_title,
        details=update.details,
    )
    if update.status == MessageStatus.FAILED and update.error_code == WINDOW_CLOSED_ERROR:
        window_close(conversation, at=update.occurred_at)
        conversation.save(update_fields=["window_expires_at", "is_window_open", "updated_at"])
    return "applied" if changed else "unchanged"


def _known_identities(channel: Channel, identities: list) -> dict:
    return {
        (identity.kind, identity.value): identity.contact
        for identity in ContactIdentity.objects.filter(
            channel=channel, value__in=[value for _, value in identities]
        ).select_related("contact")
    }


def _resolve_or_create(channel: Channel, ref: ContactRef, identities: list, known: dict) -> Contact:
    contact = next((known[key] for key in identities if key in known), None)
    if contact is None and ref.phone:
        contact = Contact.objects.filter(
            organization_id=channel.organization_id, phone=ref.phone
        ).first()
    if contact is None:
        contact = Contact.objects.create(
            organization_id=channel.organization_id, name=ref.name, phone=ref.phone
        )
    _fill_in(contact, ref)
    ContactIdentity.objects.bulk_create(
        [
            ContactIdentity(contact=contact, channel=channel, kind=kind, value=value)
            for kind, value in identities
            if (kind, value) not in known
        ]
    )
    return contact


def _fill_in(contact: Contact, ref: ContactRef) -> None:
    changed = []
    if ref.name and contact.name != ref.name:
        contact.name = ref.name  # the provider's profile name is the freshest we have
        changed.append("name")
    if ref.phone and not contact.phone:
        contact.phone = ref.phone
        changed.append("phone")
    if changed:
        contact.save(update_fields=[*changed, "updated_at"])


def _locked(conversation_id: int) -> Conversation:
    """The conversation, holding its row lock until the transaction ends (see
    `conversation_for_contact`)."""
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("channel")
        .get(pk=conversation_id)
    )


def _lock_message_key(channel_id: int, provider_message_id: str) -> None:
    """Serialize the creation of a message with statuses that arrive for it first.

    PostgreSQL: a transaction-scoped advisory lock on the (channel, message id) pair.
    SQLite already serializes all writing transactions, so it needs nothing.
    """
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            [f"message:{channel_id}:{provider_message_id}"],
        )


def _note_in_conversation(conversation: Conversation, message: InboundMessage) -> None:
    if conversation.last_message_at is None or message.occurred_at >= conversation.last_message_at:
        conversation.last_message_at = message.occurred_at
        conversation.last_message_preview = (message.text or f"[{message.type}]")[:PREVIEW_LENGTH]
    if not message.from_me and message.type not in _NOT_CUSTOMER_WRITING:
        conversation.unread_count += 1
        window_note_customer_message(conversation, at=message.occurred_at)
        if conversation.status in (ConversationStatus.SNOOZED, ConversationStatus.CLOSED):
            conversation.status = ConversationStatus.OPEN  # the customer wrote again
            conversation.snoozed_until = None
    if message.conversation_ref and not conversation.provider_conversation_ref:
        conversation.provider_conversation_ref = message.conversation_ref
    conversation.save(
        update_fields=[
            "last_message_at",
            "last_message_preview",
            "unread_count",
            "last_user_message_at",
            "window_expires_at",
            "is_window_open",
            "status",
            "snoozed_until",
            "provider_conversation_ref",
            "updated_at",
        ]
    )


def _advance(message: Message, *, status, at, error_code="", error_title="", details=None) -> bool:
    """Apply a status if it is later than the message's; record its time either way."""
    status = MessageStatus(status)
    changed = []
    time_field = _STATUS_TIME_FIELD.get(status)
    if time_field and getattr(message, time_field) is None:
        setattr(message, time_field, at)
        changed.append(time_field)
    if status.rank > MessageStatus(message.status).rank:
        message.status = status
        changed.append("status")
        if status == MessageStatus.FAILED:
            message.error_code, message.error_title = error_code, error_title[:500]
            changed += ["error_code", "error_title"]
    if details:
        message.status_details = {**message.status_details, **details}
        changed.append("status_details")
    if changed:
        message.save(update_fields=[*changed, "updated_at"])
    return "status" in changed or bool(time_field and time_field in changed)


def _keep_pending(channel: Channel, update: MessageStatusUpdate) -> None:
    PendingStatusUpdate.objects.get_or_create(
        event_id=update.event_id,
        defaults={
            "channel": channel,
            "provider_message_id": update.message_id,
            "status": update.status,
            "occurred_at": update.occurred_at,
            "error_code": update.error_code,
            "error_title": update.error_title[:500],
            "details": update.details,
        },
    )


def _apply_pending_statuses(message: Message) -> None:
    pending = list(
        PendingStatusUpdate.objects.filter(
            channel_id=message.channel_id, provider_message_id=message.provider_message_id
        ).order_by("occurred_at")
    )
    for update in pending:
        _advance(
            message,
            status=update.status,
            at=update.occurred_at,
            error_code=update.error_code,
            error_title=update.error_title,
            details=update.details,
        )
    if pending:
        PendingStatusUpdate.objects.filter(pk__in=[update.pk for update in pending]).delete()
