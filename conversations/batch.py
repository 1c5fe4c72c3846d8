"""Apply many inbound messages and status updates at once, with the same rules as one
at a time (see services.py) in a few queries per batch instead of a dozen per message.

Every transaction takes its locks in the same order, so concurrent batches never
deadlock:
1. the advisory locks of every message key in the batch, sorted, in one statement;
2. the rows it creates (contacts' identities, conversations), inserted in sorted order
   with ON CONFLICT DO NOTHING and read back, so a concurrent creator's row wins;
3. the row locks of every conversation it touches, sorted, in one SELECT FOR UPDATE.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from functools import reduce
from operator import or_

from django.db import connection, transaction
from django.db.models import Exists, F, Q
from django.utils import timezone

from conversations import events
from conversations.amendments import (
    PREVIEW_LENGTH,
    changes_apply,
    changes_apply_pending,
    reactions_apply,
)
from conversations.calls import PENDING_CALL_FACTS, call_facts_add, call_file
from conversations.consent import ConsentUpdate, consent_changes_apply, refusal_opt_outs
from conversations.keywords import RepliesPending, keywords_apply
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
from conversations.window import (
    window_close,
    window_note_customer_message,
    window_note_template,
)
from outbox.services import EventDraft, events_record_many
from providers.events import (
    CallEvent,
    ContactRef,
    InboundMessage,
    MessageChanged,
    MessageReaction,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
)
from tenants.db import rows_update, server_bound_cursor
from tenants.models import Channel, WindowPolicy

# Which identity wins when a provider gives several: the most specific first.
IDENTITY_ORDER = (
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
_CONVERSATION_FIELDS = [
    "last_activity_at",
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

# What a message the business sends changes in its conversation.
_OUTBOUND_CONVERSATION_FIELDS = [
    "last_activity_at",
    "last_message_at",
    "last_message_preview",
    "last_template_message_at",
    "window_expires_at",
    "is_window_open",
    "updated_at",
]

IdentityKey = tuple[int, str, str]  # (channel id, kind, value)


class MissingContactError(ValueError):
    """A message named no one we could file it under."""


# What happens in a conversation: a message, or a reaction to, edit or revoke of one
# (`message_id` names the message in every case), or a call (`call_id` names it).
ConversationEvent = InboundMessage | MessageReaction | MessageChanged | CallEvent


@dataclass(frozen=True)
class Inbound:
    """A message, or a call (filed as a message of type "call", see calls.py)."""

    channel: Channel
    message: ConversationEvent
    webhook_event_id: int | None = None

    @property
    def key(self) -> str:
        """The provider's id of the message or call: unique per channel."""
        if isinstance(self.message, CallEvent):
            return self.message.call_id
        return self.message.message_id

    @property
    def names_someone(self) -> bool:
        """False only for a call's sequel (summary, transcript), which names no one."""
        return isinstance(self.message, InboundMessage) or self.message.contact != ContactRef()


@dataclass(frozen=True)
class Status:
    channel: Channel
    update: MessageStatusUpdate
    from_webhook: bool = True  # False: read from the provider's API (reconciliation)


@dataclass
class _Batch:
    conversations: dict[int, Conversation] = field(default_factory=dict)
    changed_conversations: set[int] = field(default_factory=set)
    messages: dict[tuple[int, str], Message] = field(default_factory=dict)
    changed_messages: dict[int, set[str]] = field(default_factory=dict)
    consent_updates: list[ConsentUpdate] = field(default_factory=list)  # refusals' opt-outs
    events: list[EventDraft] = field(default_factory=list)  # for the outbox, in order


@transaction.atomic(savepoint=False)  # inside a caller's transaction: all or nothing
def events_apply(
    *,
    inbound: list[Inbound],
    statuses: list[Status],
    on_replies_pending: RepliesPending | None = None,
) -> tuple[list, list]:
    """File inbound messages and apply status updates, each exactly once; customers'
    keywords change their consent (conversations.keywords), and `on_replies_pending`
    is given the auto-replies recorded, once the transaction commits.

    Returns the outcome of each item, in order: "created" or "duplicate" for messages;
    "reacted" or "unchanged" for reactions; "edited", "revoked", "unchanged" or
    "pending" for changes (see conversations.amendments); "applied", "unchanged" or
    "pending" (the message is not known yet) for statuses.
    """
    _lock_message_keys(
        [(i.channel.id, i.key) for i in inbound]
        + [(s.channel.id, s.update.message_id) for s in statuses]
    )
    contacts = _contacts_of(inbound)
    pairs = sorted(
        {
            (i.channel.id, c.id, i.channel.organization_id)
            for i, c in zip(inbound, contacts, strict=True)
            if c is not None
        }
    )
    channels = {item.channel.id: item.channel for item in [*inbound, *statuses]}
    begun = _create_conversations(pairs, channels)
    known = _known_messages(inbound, statuses)
    batch = _Batch()
    _lock_conversations(batch, pairs, {m.conversation_id for m in known.values()}, channels)
    batch.events += _begun_events(begun, batch.conversations.values())
    batch.messages.update(known)
    by_pair = {(c.channel_id, c.contact_id): c for c in batch.conversations.values()}
    kinds: dict[type, list] = {
        InboundMessage: [],
        CallEvent: [],
        MessageReaction: [],
        MessageChanged: [],
    }
    for position, (item, contact) in enumerate(zip(inbound, contacts, strict=True)):
        kinds[type(item.message)].append((position, item, contact))
    outcomes = {
        **_file_messages(batch, sorted(kinds[InboundMessage] + kinds[CallEvent]), by_pair),
        **reactions_apply(batch, _in_conversations(kinds[MessageReaction], by_pair)),
        **changes_apply(batch, _in_conversations(kinds[MessageChanged], by_pair)),
    }
    status_outcomes = [_apply_status(batch, item) for item in statuses]
    _save(batch)
    filed = [
        batch.messages[(i.channel.id, i.key)]
        for p, i in enumerate(inbound)
        if _new_text(i, outcomes[p])
    ]
    keywords_apply(messages=filed, on_replies_pending=on_replies_pending)
    return [outcomes[position] for position in range(len(inbound))], status_outcomes


def _new_text(item: Inbound, outcome: str) -> bool:
    return outcome == "created" and isinstance(item.message, InboundMessage)


def _in_conversations(items: list, by_pair: dict) -> list[tuple[int, Inbound, Conversation]]:
    return [
        (position, item, by_pair[(item.channel.id, contact.pk)])
        for position, item, contact in items
    ]


def _contacts_of(inbound: list[Inbound]) -> list[Contact | None]:
    """Each item's contact; None for a call's sequel that names no one (it completes a
    call filed before, whose conversation it finds by the call's id)."""
    named = [item for item in inbound if item.names_someone]
    found = iter(contacts_resolve(refs=[(i.channel, i.message.contact) for i in named]))
    return [next(found) if item.names_someone else None for item in inbound]


def contacts_resolve(*, refs: list[tuple[Channel, ContactRef]]) -> list[Contact]:
    """The contact each (channel, reference) names, created if new.

    Known identities on the channel win; otherwise a contact of the organization with
    the same phone number (the same person on SMS and WhatsApp); otherwise a new one,
    one per person even when the batch names them several times.
    """
    wanted = [_identity_keys(channel, ref) for channel, ref in refs]
    stored = _contacts_by_identity(key for keys in wanted for key in keys)
    by_phone = _contacts_by_phone(refs, wanted, stored)
    known = dict(stored)
    contacts: list[Contact] = []
    for (channel, ref), keys in zip(refs, wanted, strict=True):
        contact = next((known[key] for key in keys if key in known), None)
        if contact is None and ref.phone:
            contact = by_phone.get((channel.organization_id, ref.phone))
        if contact is None:
            contact = Contact(organization_id=channel.organization_id, phone=ref.phone)
            if ref.phone:
                by_phone[(channel.organization_id, ref.phone)] = contact
        for key in keys:
            known.setdefault(key, contact)  # later items naming the same person find it
        contacts.append(contact)
    _store_new(contacts, wanted, stored, known)
    _fill_in(contacts, refs)
    return contacts


def _identity_keys(channel: Channel, ref: ContactRef) -> list[IdentityKey]:
    keys = [(channel.id, kind.value, getattr(ref, attr)) for kind, attr in IDENTITY_ORDER]
    keys = [key for key in keys if key[2]]
    if not keys:
        raise MissingContactError("The message carries no phone, wa_id, user_id or id.")
    return keys


def _contacts_by_identity(keys: Iterable[IdentityKey]) -> dict[IdentityKey, Contact]:
    keys = set(keys)
    if not keys:
        return {}
    identities = ContactIdentity.objects.filter(
        channel_id__in={key[0] for key in keys}, value__in={key[2] for key in keys}
    ).select_related("contact")
    found = {(i.channel_id, i.kind, i.value): i.contact for i in identities}
    return {key: contact for key, contact in found.items() if key in keys}


def _contacts_by_phone(refs, wanted, stored) -> dict[tuple[int, str], Contact]:
    unknown = {
        (channel.organization_id, ref.phone)
        for (channel, ref), keys in zip(refs, wanted, strict=True)
        if ref.phone and not any(key in stored for key in keys)
    }
    if not unknown:
        return {}
    candidates = Contact.objects.filter(
        organization_id__in={org for org, _ in unknown},
        phone__in={phone for _, phone in unknown},
    ).order_by("id")
    found: dict[tuple[int, str], Contact] = {}
    for contact in candidates:
        found.setdefault((contact.organization_id, contact.phone), contact)
    return {key: contact for key, contact in found.items() if key in unknown}


def _store_new(contacts: list[Contact], wanted: list, stored: dict, known: dict) -> None:
    """Insert new contacts and the identities not stored yet. Where a concurrent batch
    stored one of a new contact's identities first, its contact wins and ours goes."""
    new = list({id(contact): contact for contact in contacts if contact.pk is None}.values())
    if new:
        Contact.objects.bulk_create(new)
    unstored = sorted({key for keys in wanted for key in keys if key not in stored})
    if not unstored:
        return
    ContactIdentity.objects.bulk_create(
        [
            ContactIdentity(channel_id=c, kind=k, value=v, contact=known[(c, k, v)])
            for c, k, v in unstored
        ],
        ignore_conflicts=True,  # sorted: concurrent inserts wait in one order, never deadlock
    )
    if new:
        _yield_to_earlier_creators(contacts, wanted, _contacts_by_identity(unstored), new)


def _yield_to_earlier_creators(contacts, wanted, now_stored, new) -> None:
    new_ids = {contact.pk for contact in new}
    dropped = set()
    for index, keys in enumerate(wanted):
        contact = contacts[index]
        if contact.pk not in new_ids:
            continue
        winner = next(
            (
                now_stored[key]
                for key in keys
                if key in now_stored and now_stored[key].pk != contact.pk
            ),
            None,
        )
        if winner is not None:
            dropped.add(contact.pk)
            contacts[index] = winner
    if dropped:
        Contact.objects.filter(pk__in=dropped).delete()


def _fill_in(contacts: list[Contact], refs: list[tuple[Channel, ContactRef]]) -> None:
    changed: dict[int, Contact] = {}
    for contact, (_, ref) in zip(contacts, refs, strict=True):
        if ref.name and contact.name != ref.name:
            contact.name = ref.name  # the provider's profile name is the freshest we have
            changed[contact.pk] = contact
        if ref.phone and not contact.phone:
            contact.phone = ref.phone
            changed[contact.pk] = contact
    if changed:
        now = timezone.now()
        for contact in changed.values():
            contact.updated_at = now
        # In id order, so two batches updating the same people never wait on each other
        # in opposite orders.
        ordered = [changed[pk] for pk in sorted(changed)]
        rows_update(ordered, ["name", "phone", "updated_at"])


def _lock_message_keys(keys: list[tuple[int, str]]) -> None:
    """Serialize everything done to one message (its creation, statuses that arrive for
    it first) across workers. PostgreSQL: transaction-scoped advisory locks, taken in
    one statement in ascending key order. SQLite serializes all writing transactions."""
    if not keys or connection.vendor != "postgresql":
        return
    lock_ids = sorted({_lock_id(channel_id, message_id) for channel_id, message_id in keys})
    with connection.cursor() as cursor:
        # No ORDER BY: rows of unnest() come, and are locked, in the array's (sorted) order.
        cursor.execute("SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k", [lock_ids])


def _lock_id(channel_id: int, message_id: str) -> int:
    digest = hashlib.blake2b(f"message:{channel_id}:{message_id}".encode(), digest_size=8)
    return int.from_bytes(digest.digest(), "big", signed=True)


def _create_conversations(
    pairs: list[tuple[int, int, int]], channels: dict[int, Channel]
) -> list[Conversation]:
    """Make sure each (channel, contact) has its conversation; sorted, so concurrent
    batches creating the same ones wait in one order. Returns the rows it tried to
    insert (see _begun_events for which of them it did)."""
    existing = _existing_conversations(pairs)
    missing = [pair for pair in pairs if pair[:2] not in existing]
    built = []
    if missing:
        built = Conversation.objects.bulk_create(
            [
                Conversation(
                    channel_id=channel_id,
                    contact_id=contact_id,
                    organization_id=org_id,
                    is_window_open=channels[channel_id].window_policy == WindowPolicy.ALWAYS_OPEN,
                )
                for channel_id, contact_id, org_id in missing
            ],
            ignore_conflicts=True,  # created meanwhile by a concurrent batch: theirs stays
        )
    return built


def _begun_events(built: list[Conversation], stored) -> list[EventDraft]:
    """conversation.created for the conversations this transaction inserted. An insert
    that lost to a concurrent batch's is told apart by its creation time: the stored
    row keeps the winner's (the microsecond each instance was built at)."""
    if not built:
        return []
    ours = {(c.channel_id, c.contact_id): c.created_at for c in built}
    return [
        events.conversation_created(conversation)
        for conversation in sorted(stored, key=lambda c: c.pk)
        if ours.get((conversation.channel_id, conversation.contact_id)) == conversation.created_at
    ]


def _existing_conversations(pairs: list[tuple[int, int, int]]) -> set[tuple[int, int]]:
    """Most conversations exist already: reading which (two integers a row) costs far
    less than building and inserting a conversation for each, conflicts ignored."""
    if not pairs:
        return set()
    existing = Conversation.objects.filter(
        channel_id__in={channel_id for channel_id, _, _ in pairs},
        contact_id__in={contact_id for _, contact_id, _ in pairs},
    ).values_list("channel_id", "contact_id")
    return set(existing)


def _known_messages(
    inbound: list[Inbound], statuses: list[Status]
) -> dict[tuple[int, str], Message]:
    keys = {(i.channel.id, i.key) for i in inbound}
    keys |= {(s.channel.id, s.update.message_id) for s in statuses}
    if not keys:
        return {}
    messages = Message.objects.filter(
        channel_id__in={c for c, _ in keys}, provider_message_id__in={m for _, m in keys}
    )
    return {
        (m.channel_id, m.provider_message_id): m
        for m in messages
        if (m.channel_id, m.provider_message_id) in keys
    }


def _lock_conversations(
    batch: _Batch, pairs, conversation_ids: set[int], channels: dict[int, Channel]
) -> None:
    """Every conversation this batch touches, row-locked in one sorted statement until
    the transaction ends: events of one conversation are applied one at a time."""
    # One condition per channel, not per pair: a page of a thousand messages built (and
    # PostgreSQL planned) a thousand-way OR (bench/reconcile.py).
    contacts_by_channel: dict[int, list[int]] = {}
    for channel_id, contact_id, _ in pairs:
        contacts_by_channel.setdefault(channel_id, []).append(contact_id)
    wanted = [
        Q(channel_id=channel_id, contact_id__in=contact_ids)
        for channel_id, contact_ids in contacts_by_channel.items()
    ]
    if conversation_ids:
        wanted.append(Q(pk__in=conversation_ids))
    if not wanted:
        return
    locked = (
        Conversation.objects.select_for_update(of=("self",))
        .filter(reduce(or_, wanted))
        .order_by("id")
    )
    batch.conversations = {}
    for conversation in locked:
        # The batch's own channels, not one loaded (and its secrets decrypted) per row.
        if conversation.channel_id in channels:
            conversation.channel = channels[conversation.channel_id]
        batch.conversations[conversation.pk] = conversation


def _file_messages(
    batch: _Batch,
    items: list[tuple[int, Inbound, Contact | None]],
    by_pair: dict[tuple[int, int], Conversation],
) -> dict[int, str]:
    """Messages and calls, in the batch's order: each position's outcome."""
    outcomes, created = {}, []
    for position, item, contact in items:
        if isinstance(item.message, CallEvent):
            outcomes[position] = call_file(batch, item, contact, by_pair, created)
            continue
        key = (item.channel.id, item.key)
        if key in batch.messages:
            if item.message.from_me and item.webhook_event_id is not None:
                _confirm_by_webhook(batch, batch.messages[key])  # the provider's echo
            outcomes[position] = "duplicate"
            continue
        conversation = by_pair[(item.channel.id, contact.pk)]
        message = _new_message(item, conversation)
        batch.messages[key] = message
        created.append(message)
        status = conversation.status
        _note_in_conversation(conversation, item.message)
        if conversation.status != status:  # reopened: the customer wrote again
            batch.events.append(
                events.conversation_status_changed(conversation, status, item.message.occurred_at)
            )
        batch.changed_conversations.add(conversation.pk)
        outcomes[position] = "created"
    if created:
        Message.objects.bulk_create(created)
        batch.events += [
            events.message_filed(m, batch.conversations[m.conversation_id]) for m in created
        ]
        _apply_pending_statuses(batch, created)
        changes_apply_pending(batch, created)
    return outcomes


def _new_message(item: Inbound, conversation: Conversation) -> Message:
    message, from_me = item.message, item.message.from_me
    return Message(
        organization_id=item.channel.organization_id,
        channel=item.channel,
        conversation=conversation,
        direction=Direction.OUTBOUND if from_me else Direction.INBOUND,
        type=message.type,
        text=message.text,
        media=message.media,
        payload=message.payload,
        context=message.context,
        provider_message_id=message.message_id,
        status=MessageStatus.SENT if from_me else MessageStatus.RECEIVED,
        sent_at=message.occurred_at if from_me else None,
        provider_timestamp=message.occurred_at,
        occurred_at=message.occurred_at,
        webhook_event_id=item.webhook_event_id,
    )


def _note_in_conversation(conversation: Conversation, message: InboundMessage) -> None:
    if conversation.last_message_at is None or message.occurred_at >= conversation.last_message_at:
        conversation.last_message_at = message.occurred_at
        conversation.last_activity_at = message.occurred_at
        conversation.last_message_preview = (message.text or f"[{message.type}]")[:PREVIEW_LENGTH]
    if not message.from_me and message.type not in _NOT_CUSTOMER_WRITING:
        conversation.unread_count += 1
        window_note_customer_message(conversation, at=message.occurred_at)
        if conversation.status in (ConversationStatus.SNOOZED, ConversationStatus.CLOSED):
            conversation.status = ConversationStatus.OPEN  # the customer wrote again
            conversation.snoozed_until = None
    if message.conversation_ref and not conversation.provider_conversation_ref:
        conversation.provider_conversation_ref = message.conversation_ref


def _apply_status(batch: _Batch, item: Status) -> str:
    message = batch.messages.get((item.channel.id, item.update.message_id))
    if message is None:
        _keep_pending(item.channel, item.update)
        return "pending"
    changed = _record_status(batch, message, item.update)
    if item.from_webhook:
        _confirm_by_webhook(batch, message)
    moved = {"status", "error_history", *_STATUS_TIME_FIELD.values()} & set(changed)
    return "applied" if moved else "unchanged"


def _confirm_by_webhook(batch: _Batch, message: Message) -> None:
    if message.direction == Direction.OUTBOUND and message.webhook_confirmed_at is None:
        message.webhook_confirmed_at = timezone.now()
        batch.changed_messages.setdefault(message.pk, set()).add("webhook_confirmed_at")


def _record_status(batch: _Batch, message: Message, update) -> list[str]:
    """Apply a status (a webhook's, or one that waited for its message) to a message
    of the batch; a 131047 failure also closes the conversation's window."""
    previous = message.status
    changed = _advance(
        message,
        status=update.status,
        at=update.occurred_at,
        error_code=update.error_code,
        error_title=update.error_title,
        details=update.details,
    )
    batch.changed_messages.setdefault(message.pk, set()).update(changed)
    if "status" in changed:
        batch.events.append(events.message_status_changed(message, previous, update.occurred_at))
    if "error_history" in changed and message.direction == Direction.OUTBOUND:
        # A new refusal, not a redelivered one: it may say the recipient opted out.
        batch.consent_updates += refusal_opt_outs(
            conversation=batch.conversations[message.conversation_id],
            message=message,
            error_code=update.error_code,
            at=update.occurred_at,
        )
    if update.status == MessageStatus.FAILED and update.error_code == WINDOW_CLOSED_ERROR:
        conversation = batch.conversations[message.conversation_id]
        window_close(conversation, at=update.occurred_at)
        batch.changed_conversations.add(conversation.pk)
    return changed


def _advance(
    message: Message, *, status, at, error_code="", error_title="", details=None
) -> list[str]:
    """Move a message to a later status; record each status's time either way. Returns
    the fields changed (not saved).

    One consistent record: `failed_at`, `error_code` and `error_title` describe a
    failure only while the message is `failed`. A failure reported once it was
    delivered or read (Meta sends these, out of order or late) does not undo that
    status and sets none of them: it goes to `error_history` with every other failure,
    so nothing the provider said is lost and no failed-looking fields sit on a read
    message. A delivery reported after a failure moves it on the same way.
    """
    status = MessageStatus(status)
    moves = status.rank > MessageStatus(message.status).rank
    changed = _note_failure(message, error_code, error_title, at) if status == "failed" else []
    time_field = _STATUS_TIME_FIELD.get(status)
    if time_field and getattr(message, time_field) is None and (moves or status != "failed"):
        setattr(message, time_field, at)
        changed.append(time_field)
    if moves:
        if message.status == MessageStatus.FAILED:  # delivered after all
            message.failed_at, message.error_code, message.error_title = None, "", ""
            # Its errors stay in error_history.
            message.status_details = {
                key: value for key, value in message.status_details.items() if key != "errors"
            }
            changed.append("status_details")
        elif status == MessageStatus.FAILED:
            message.error_code, message.error_title = error_code, error_title[:500]
        message.status = status
        changed += ["status", "failed_at", "error_code", "error_title"]
    if details and not moves and status == MessageStatus.FAILED:
        details = {key: value for key, value in details.items() if key != "errors"}
    if details:
        message.status_details = {**message.status_details, **details}
        changed.append("status_details")
    return changed


def _note_failure(message: Message, code: str, title: str, at: datetime) -> list[str]:
    entry = {"code": code, "title": title[:500], "at": at.isoformat()}
    if entry in message.error_history:
        return []  # a redelivery
    message.error_history = [*message.error_history, entry]
    return ["error_history"]


def _keep_pending(channel: Channel, update: MessageStatusUpdate) -> None:
    PendingStatusUpdate.objects.bulk_create(
        [
            PendingStatusUpdate(
                event_id=update.event_id,
                channel=channel,
                provider_message_id=update.message_id,
                status=update.status,
                occurred_at=update.occurred_at,
                error_code=update.error_code,
                error_title=update.error_title[:500],
                details=update.details,
            )
        ],
        ignore_conflicts=True,  # a redelivered status is kept once
    )


def _apply_pending_statuses(batch: _Batch, created: list[Message]) -> None:
    channel_ids = {m.channel_id for m in created}
    # Usually nothing waits: a cheap look first, before asking for a thousand ids.
    if not PendingStatusUpdate.objects.filter(channel_id__in=channel_ids).exists():
        return
    keys = {(m.channel_id, m.provider_message_id) for m in created}
    pending = [
        p
        for p in PendingStatusUpdate.objects.filter(
            channel_id__in={c for c, _ in keys}, provider_message_id__in={m for _, m in keys}
        ).order_by("occurred_at")
        if (p.channel_id, p.provider_message_id) in keys
    ]
    for update in pending:
        message = batch.messages[(update.channel_id, update.provider_message_id)]
        if update.status == PENDING_CALL_FACTS:
            call_facts_add(batch, message, update.details)
            continue
        _record_status(batch, message, update)
        # Statuses wait here for a message we did not know yet: webhooks' (a
        # reconciliation files its messages before their statuses).
        _confirm_by_webhook(batch, message)
    if pending:
        PendingStatusUpdate.objects.filter(pk__in=[p.pk for p in pending]).delete()


def _save(batch: _Batch) -> None:
    now = timezone.now()
    if batch.changed_conversations:
        conversations = [batch.conversations[pk] for pk in sorted(batch.changed_conversations)]
        for conversation in conversations:
            conversation.updated_at = now
        rows_update(conversations, _CONVERSATION_FIELDS)
    changed = {pk: fields for pk, fields in batch.changed_messages.items() if fields}
    if changed:
        by_pk = {m.pk: m for m in batch.messages.values()}
        messages = [by_pk[pk] for pk in sorted(changed)]
        for message in messages:
            message.updated_at = now
        fields = sorted(set().union(*changed.values()) | {"updated_at"})
        rows_update(messages, fields)
    events_record_many(events=batch.events)  # one INSERT for the batch's events
    if batch.consent_updates:
        consent_changes_apply(updates=batch.consent_updates)


# --- Outbound: messages the business sends ------------------------------------------


def outbound_create(
    *,
    conversation: Conversation,
    type: MessageType,
    text: str = "",
    payload: dict | None = None,
    context: dict | None = None,
) -> Message:
    """A queued outbound message, noted in its conversation (activity, preview, and
    for a template the template time the window policy may count)."""
    with transaction.atomic():
        locked = _conversation_locked(conversation.pk)
        message = Message.objects.create(
            organization_id=locked.organization_id,
            channel=locked.channel,
            conversation=locked,
            direction=Direction.OUTBOUND,
            type=type,
            text=text,
            payload=payload or {},
            context=context or {},
            status=MessageStatus.QUEUED,
            occurred_at=timezone.now(),  # the thread's order: when we wrote it
        )
        outbound_note(locked, message)
        locked.save(update_fields=_OUTBOUND_CONVERSATION_FIELDS)
    return message


def outbound_note(locked: Conversation, message: Message) -> None:
    """What a queued outbound message changes in its conversation (fields only; the
    caller saves `_OUTBOUND_CONVERSATION_FIELDS`)."""
    locked.last_message_at = locked.last_activity_at = message.occurred_at
    locked.last_message_preview = (message.text or f"[{message.type}]")[:PREVIEW_LENGTH]
    if message.type == MessageType.TEMPLATE:
        window_note_template(locked, at=message.occurred_at)


@transaction.atomic
def outbound_accepted(
    *,
    message_id: int,
    provider_message_id: str,
    status: MessageStatus,
    at: datetime,
    channel_id: int | None = None,
    conversation_id: int | None = None,
    sent: Message | None = None,
) -> None:
    """The provider took the message: store its id, and apply any status webhook that
    arrived for that id before we knew it (they are kept pending until now).

    Takes the same locks, in the same order, as webhook processing: the message key's
    advisory lock, then the conversation's row, then the message's. The conversation's
    row only when something waits for the key (a status that came first, a copy filed
    under it): otherwise storing the id changes nothing in the conversation. Whatever
    would wait is written under the key's lock, which is held from here on.
    `channel_id` and `conversation_id` (the message's) spare a query when known.
    """
    if channel_id is None or conversation_id is None:
        channel_id, conversation_id = Message.objects.values_list(
            "channel_id", "conversation_id"
        ).get(pk=message_id)
    batch = _Batch()
    if _locked_then_anything_waits(channel_id, provider_message_id, message_id):
        batch.conversations[conversation_id] = _conversation_locked(conversation_id)
    elif sent is not None and MessageStatus(status) == MessageStatus.QUEUED:
        # Nothing waits and "queued" advances nothing (WhatsApp's answer): the id is
        # stored by one UPDATE that takes the row's lock itself, and message.sent is
        # built from the message as the send task loaded it (bench/outbound.py: reading
        # the row again cost a round trip a send).
        sent.provider_message_id, sent.updated_at = provider_message_id, at
        rows_update([sent], ["provider_message_id", "updated_at"])
        events_record_many(events=[events.message_sent(sent, sent.conversation.contact_id)])
        return
    message = (
        Message.objects.select_for_update(of=("self",))
        .annotate(contact_of_conversation=F("conversation__contact_id"))
        .get(pk=message_id)
    )
    message.provider_message_id = provider_message_id
    changed = {"provider_message_id", *_advance(message, status=status, at=at)}
    batch.events.append(events.message_sent(message, message.contact_of_conversation))
    if batch.conversations:
        changed.update(_adopt_filed_copy(message))
    batch.messages[(channel_id, provider_message_id)] = message
    batch.changed_messages[message.pk] = changed
    if batch.conversations:
        _apply_pending_statuses(batch, [message])
    _save(batch)


def _locked_then_anything_waits(channel_id: int, provider_message_id: str, message_id: int) -> bool:
    """The key's advisory lock, then _anything_waits, sent together in one round trip
    (a pipeline) on PostgreSQL. It runs them in order, the second with a snapshot taken
    once the lock is held: it sees what an earlier holder of the lock committed."""
    if connection.vendor != "postgresql":
        _lock_message_keys([(channel_id, provider_message_id)])
        return _anything_waits(channel_id, provider_message_id, message_id)
    message, pending = Message._meta.db_table, PendingStatusUpdate._meta.db_table
    with server_bound_cursor(connection) as lock, server_bound_cursor(connection) as waits:
        with lock.connection.pipeline():
            lock.execute(
                "SELECT pg_advisory_xact_lock(%s)", [_lock_id(channel_id, provider_message_id)]
            )
            # `<> ''` lets the generic plan of a prepared statement use the partial
            # unique index on (channel, provider id).
            waits.execute(
                f"SELECT EXISTS (SELECT 1 FROM {pending} WHERE channel_id = %s "  # noqa: S608 - names from the models
                "AND provider_message_id = %s) OR EXISTS (SELECT 1 FROM "
                f"{message} WHERE channel_id = %s AND provider_message_id = %s "
                "AND provider_message_id <> '' AND id <> %s)",
                [channel_id, provider_message_id, channel_id, provider_message_id, message_id],
            )
        return waits.fetchone()[0]


def _anything_waits(channel_id: int, provider_message_id: str, message_id: int) -> bool:
    """A status kept pending for the key, or a message filed under it before we knew
    it was ours (see _adopt_filed_copy): one query, both indexed."""
    pending = PendingStatusUpdate.objects.filter(
        channel_id=channel_id, provider_message_id=provider_message_id
    )
    copy = Message.objects.filter(
        channel_id=channel_id, provider_message_id=provider_message_id
    ).exclude(pk=message_id)
    waits = (
        Message.objects.filter(pk=message_id)
        .annotate(pending=Exists(pending), copy=Exists(copy))
        .values_list("pending", "copy")
        .get()
    )
    return any(waits)


def _adopt_filed_copy(message: Message) -> list[str]:
    """A provider that reports its messages (OpenPhone's message.delivered, for one
    sent from its app) may report ours before we stored its id: that report filed a copy
    under the id. Ours takes the copy's statuses and the copy goes; without this, storing
    the id broke the unique constraint and the sweep sent the message a second time."""
    copy = (
        Message.objects.select_for_update()
        .filter(channel_id=message.channel_id, provider_message_id=message.provider_message_id)
        .exclude(pk=message.pk)
        .first()
    )
    if copy is None:
        return []
    changed = []
    for status, time_field in _STATUS_TIME_FIELD.items():
        at = getattr(copy, time_field)
        if at is not None and status != MessageStatus.FAILED:
            changed += _advance(message, status=status, at=at)
    if copy.webhook_confirmed_at and not message.webhook_confirmed_at:
        message.webhook_confirmed_at = copy.webhook_confirmed_at
        changed.append("webhook_confirmed_at")
    copy.delete()
    return changed


@transaction.atomic
def outbound_failed(*, message_id: int, error_code: str, error_title: str, at: datetime) -> Message:
    """The provider refused the message for good. A 131047 refusal means the window
    is closed, whatever our clock said: the conversation's window closes too."""
    conversation_id = Message.objects.values_list("conversation_id", flat=True).get(pk=message_id)
    batch = _Batch(conversations={conversation_id: _conversation_locked(conversation_id)})
    message = Message.objects.select_for_update().get(pk=message_id)
    batch.messages[(message.channel_id, str(message.pk))] = message
    update = _Refusal(MessageStatus.FAILED, at, error_code, error_title)
    _record_status(batch, message, update)
    _save(batch)
    return message


@dataclass(frozen=True)
class _Refusal:
    status: MessageStatus
    occurred_at: datetime
    error_code: str
    error_title: str
    details: dict = field(default_factory=dict)


def _conversation_locked(conversation_id: int) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("channel")
        .get(pk=conversation_id)
    )


@transaction.atomic(savepoint=False)
def conversation_with(*, channel: Channel, ref: ContactRef) -> Conversation:
    """The conversation on this channel with the person `ref` names (phone, provider
    id), contact and conversation created if new: a send to a number finds the
    thread the customer's own messages are filed in."""
    (contact,) = contacts_resolve(refs=[(channel, ref)])
    pair = (channel.id, contact.pk, channel.organization_id)
    begun = _create_conversations([pair], {channel.id: channel})
    conversation = (
        Conversation.objects.select_related("channel", "contact")
        .filter(channel=channel, contact=contact)
        .get()
    )
    events_record_many(events=_begun_events(begun, [conversation]))
    return conversation
