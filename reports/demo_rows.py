"""The demo history's rows (reports.demo_history), written as the services would have
written them: one conversation's thread is planned as moments and texts, then made
into a Conversation and its Messages with every derived field (window, preview,
unread count, delivery times) computed by the same rules as conversations.batch.

Rows are inserted with bulk_create, which stamps `created_at`/`updated_at` with the
clock (auto_now_add, auto_now); `dates_restore` then writes the historical ones with
bulk_update, which stamps nothing. They matter: the inbox backfill places a message
in an episode by when it was filed (`created_at`), and takes a closed conversation's
last change (`updated_at`) as when it closed.
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from conversations.amendments import PREVIEW_LENGTH
from conversations.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    Direction,
    IdentityKind,
    Message,
)
from conversations.window import window_recompute
from providers import Provider
from providers.events import MessageStatus, MessageType
from tenants.models import Channel

# A message reaches us a moment after its provider's timestamp; ours reach the
# provider a moment after we queue them, and the handset a moment after that.
ARRIVAL = timedelta(seconds=2)
ACCEPTED = timedelta(seconds=1)
DELIVERED = timedelta(seconds=4)
READ_AFTER = timedelta(minutes=3)
# Providers that report reads (SMS has no read receipts).
READS = {Provider.WHATSAPP_CLOUD, Provider.UNIPILE}
MESSAGE_ID_PREFIX = {
    Provider.WHATSAPP_CLOUD: "wamid.demo",
    Provider.OPENPHONE: "ACdemo",
    Provider.TWILIO: "SMdemo",
    Provider.UNIPILE: "demo-li-",
}
BATCH = 200
FIRST_NAMES = ["Maria", "James", "Aisha", "Luca", "Sofia", "Noah", "Emma", "Kenji", "Olivia"]
LAST_NAMES = ["Silva", "Carter", "Haddad", "Rossi", "Novak", "Kim", "Dubois", "Tanaka"]


def local_moment(day: date, at: time, tz: ZoneInfo) -> datetime:
    """A wall-clock time of the organization's day, as an aware datetime."""
    return datetime.combine(day, at, tzinfo=tz)


@dataclass
class Said:
    """One planned message: who wrote it, when, what; and for ours how it fared."""

    direction: str
    at: datetime
    text: str
    author: object = None  # the agent who wrote it (None: an automation, a campaign)
    failed: tuple[str, str] | None = None  # (code, title) the provider reported


@dataclass
class Thread:
    """One planned conversation."""

    channel: Channel
    contact: Contact
    said: list[Said] = field(default_factory=list)
    assignee: object = None
    status: str = ConversationStatus.OPEN
    closed_at: datetime | None = None
    unread: int = 0
    conversation: Conversation | None = None
    messages: list[Message] = field(default_factory=list)
    # Each message's (created_at, updated_at): when it was filed, last changed.
    stamps: list[tuple[datetime, datetime]] = field(default_factory=list)

    def inbound(self, at: datetime, text: str) -> "Thread":
        self.said.append(Said(Direction.INBOUND, at, text))
        return self

    def outbound(self, at: datetime, text: str, *, author=None, failed=None) -> "Thread":
        self.said.append(Said(Direction.OUTBOUND, at, text, author, failed))
        return self


def demo_phone(n: int) -> str:
    """The demo's customers' numbers: 555-0100 to 555-0199 are reserved for fiction in
    every North American area code; a few area codes give enough of them."""
    area = ["212", "312", "415", "617"][n // 100]
    return f"+1{area}55501{n % 100:02d}"


def contacts_make(organization, channels: list[Channel], start: int) -> list[Contact]:
    """One new contact per channel given (numbered from `start`), saved with the
    identities its channel's provider knows it by."""
    contacts = []
    for n, channel in enumerate(channels, start):
        name = f"{FIRST_NAMES[n % len(FIRST_NAMES)]} {LAST_NAMES[n % len(LAST_NAMES)]}"
        linkedin = channel.provider == Provider.UNIPILE  # LinkedIn gives no number
        contacts.append(
            Contact(organization=organization, name=name, phone="" if linkedin else demo_phone(n))
        )
    Contact.objects.bulk_create(contacts)
    ContactIdentity.objects.bulk_create(
        [
            identity
            for n, (contact, channel) in enumerate(zip(contacts, channels, strict=True), start)
            for identity in _identities(contact, channel, f"ACoAADemo{n:05d}")
        ]
    )
    return contacts


def _identities(contact: Contact, channel: Channel, provider_id: str) -> list[ContactIdentity]:
    """What the channel's provider names the contact by (conversations.batch keys)."""
    if channel.provider == Provider.UNIPILE:
        pairs = [(IdentityKind.PROVIDER_ID, provider_id)]
    elif channel.provider == Provider.WHATSAPP_CLOUD:
        wa_id = contact.phone.lstrip("+")
        pairs = [(IdentityKind.WA_ID, wa_id), (IdentityKind.PHONE, contact.phone)]
    else:
        pairs = [(IdentityKind.PHONE, contact.phone)]
    return [ContactIdentity(contact=contact, channel=channel, kind=k, value=v) for k, v in pairs]


def threads_write(threads: list[Thread], *, now: datetime) -> None:
    """Insert the threads' conversations and messages (contacts are saved already)."""
    for thread in threads:
        thread.said.sort(key=lambda said: said.at)
        thread.conversation = _conversation(thread, now)
    Conversation.objects.bulk_create([t.conversation for t in threads], batch_size=BATCH)
    counter = 0
    for thread in threads:
        for said in thread.said:
            counter += 1
            message, stamps = _message(thread, said, counter)
            thread.messages.append(message)
            thread.stamps.append(stamps)
    messages = [m for t in threads for m in t.messages]
    Message.objects.bulk_create(messages, batch_size=BATCH)
    dates_restore(threads)


def dates_restore(threads: list[Thread]) -> None:
    conversations, messages = [], []
    for thread in threads:
        for message, (created, updated) in zip(thread.messages, thread.stamps, strict=True):
            message.created_at, message.updated_at = created, updated
            messages.append(message)
        # Made with its first message (a customer's, filed; or our first send, queued).
        conversation = thread.conversation
        conversation.created_at = thread.messages[0].created_at
        conversation.updated_at = thread.closed_at or max(m.created_at for m in thread.messages)
        conversations.append(conversation)
    Conversation.objects.bulk_update(conversations, ["created_at", "updated_at"], batch_size=BATCH)
    Message.objects.bulk_update(messages, ["created_at", "updated_at"], batch_size=BATCH)


def _conversation(thread: Thread, now: datetime) -> Conversation:
    last = thread.said[-1]
    customer = [s.at for s in thread.said if s.direction == Direction.INBOUND]
    conversation = Conversation(
        organization_id=thread.channel.organization_id,
        channel=thread.channel,
        contact=thread.contact,
        status=thread.status,
        assignee=thread.assignee,
        unread_count=thread.unread,
        last_activity_at=last.at,
        last_message_at=last.at,
        last_message_preview=last.text[:PREVIEW_LENGTH],
        last_user_message_at=max(customer, default=None),
    )
    window_recompute(conversation, now=now)  # the window as the clock sees it now
    return conversation


def _message(thread: Thread, said: Said, counter: int) -> tuple[Message, tuple]:
    channel = thread.channel
    message = Message(
        organization_id=channel.organization_id,
        channel=channel,
        conversation=thread.conversation,
        direction=said.direction,
        type=MessageType.TEXT,
        text=said.text,
        provider_message_id=f"{MESSAGE_ID_PREFIX[Provider(channel.provider)]}{counter:06d}",
        occurred_at=said.at,
    )
    if said.direction == Direction.INBOUND:
        message.status = MessageStatus.RECEIVED
        message.provider_timestamp = said.at
        return message, (said.at + ARRIVAL, said.at + ARRIVAL)
    changed = _fared(message, channel, said)
    if said.author is not None:  # messaging.prepare.author: who wrote it, as the thread shows
        message.payload = {"sent_by": {"id": said.author.pk, "name": said.author.get_username()}}
    return message, (said.at, changed)


def _fared(message: Message, channel: Channel, said: Said) -> datetime:
    """Queued at `at`, taken by the send task, accepted, then as the webhooks said.
    Returns when it last changed."""
    sent = said.at + ACCEPTED
    message.send_claimed_at = said.at
    message.sent_at = message.webhook_confirmed_at = sent
    if said.failed:
        code, title = said.failed
        message.status, message.failed_at = MessageStatus.FAILED, sent + DELIVERED
        message.error_code, message.error_title = code, title
        failure = {"code": code, "title": title, "at": message.failed_at.isoformat()}
        message.error_history = [failure]
        return message.failed_at
    message.status, message.delivered_at = MessageStatus.DELIVERED, sent + DELIVERED
    if Provider(channel.provider) not in READS:
        return message.delivered_at
    message.status, message.read_at = MessageStatus.READ, sent + READ_AFTER
    return message.read_at
