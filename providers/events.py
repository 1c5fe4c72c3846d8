"""Normalized events: what every provider's `parse` turns a webhook body into.

Provider-agnostic, frozen, and each keeps the raw piece of payload it came from. The
domain apps only ever see these, never a provider's JSON.

`event_id` is stable across redeliveries of the same provider event (the same message
id, the same status of the same message...), so that applying an event twice can be
recognised. `occurred_at` is the provider's own timestamp, aware and in UTC.
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from providers import Provider


class MessageType(StrEnum):
    TEXT = "text"
    IMAGE = "image"
    VIDEO = "video"
    AUDIO = "audio"
    DOCUMENT = "document"
    STICKER = "sticker"
    LOCATION = "location"
    CONTACTS = "contacts"
    INTERACTIVE = "interactive"
    BUTTON = "button"
    REACTION = "reaction"
    ORDER = "order"
    SYSTEM = "system"
    TEMPLATE = "template"
    CALL = "call"  # a phone or WhatsApp call, filed in the thread like a message
    UNSUPPORTED = "unsupported"


class MessageStatus(StrEnum):
    """Ordered: a message only ever moves to a later status (see `rank`).

    `failed` is terminal and recorded whatever came before it, except that a message
    already delivered or read stays so (a late failure report cannot undo a delivery).
    """

    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    RECEIVED = "received"  # inbound messages

    @property
    def rank(self) -> int:
        return _STATUS_RANK[self]


_STATUS_RANK = {
    MessageStatus.QUEUED: 0,
    MessageStatus.SENT: 1,
    MessageStatus.FAILED: 2,
    MessageStatus.DELIVERED: 3,
    MessageStatus.READ: 4,
    MessageStatus.RECEIVED: 4,
}


@dataclass(frozen=True, kw_only=True)
class ContactRef:
    """Who the customer is, as far as this provider tells. Any field may be empty:
    WhatsApp users with usernames may come with `user_id` only (no phone, no wa_id)."""

    phone: str = ""  # E.164 with "+", when the provider gives a phone number
    wa_id: str = ""  # WhatsApp id (digits), may differ from the dialled number
    user_id: str = ""  # Meta business-scoped user id (BSUID)
    provider_id: str = ""  # other provider ids: Unipile attendee_provider_id, ...
    name: str = ""


@dataclass(frozen=True, kw_only=True)
class Event:
    provider: Provider
    event_id: str
    occurred_at: datetime
    raw: dict[str, Any] = field(repr=False, compare=False)
    # WhatsApp's routing keys (one Meta app serves many numbers). Empty for providers
    # whose channel is named by the webhook URL.
    phone_number_id: str = ""
    waba_id: str = ""


@dataclass(frozen=True, kw_only=True)
class InboundMessage(Event):
    """A message in a conversation: from the customer, or (`from_me`) one the business
    sent from elsewhere that the provider echoes back (Unipile, OpenPhone outgoing)."""

    message_id: str
    contact: ContactRef
    type: MessageType
    text: str = ""
    from_me: bool = False
    # Media metadata: id, url, mime_type, sha256, caption, filename, voice...
    media: dict[str, Any] = field(default_factory=dict)
    # Type-specific content: location, contacts, interactive/button reply, reaction
    # (message_id, emoji), order, system, unsupported errors.
    payload: dict[str, Any] = field(default_factory=dict)
    # Reply context: replied-to message id, forwarded flags, referral (ads)...
    context: dict[str, Any] = field(default_factory=dict)
    # The provider's own conversation/chat id, when it has one (OpenPhone, Unipile).
    conversation_ref: str = ""


@dataclass(frozen=True, kw_only=True)
class MessageReaction(Event):
    """Someone reacted to a message (or took the reaction back: `emoji` is "").

    Not a message of the thread: it belongs on `message_id`, the message reacted to,
    one current reaction per `reactor`. `reaction_id` is the provider's id of the
    reaction itself, when it has one.
    """

    message_id: str
    contact: ContactRef  # whom the conversation is with
    reactor: str  # who reacted: the provider's id of the person (or account)
    emoji: str = ""
    reaction_id: str = ""
    from_me: bool = False
    conversation_ref: str = ""


class ChangeKind(StrEnum):
    EDITED = "edited"
    REVOKED = "revoked"  # deleted for everyone by its sender


@dataclass(frozen=True, kw_only=True)
class MessageChanged(Event):
    """A message was edited (new `text`) or revoked by its sender. `message_id` is the
    message changed; `change_id` the provider's id of the change itself."""

    message_id: str
    contact: ContactRef
    kind: ChangeKind
    change_id: str = ""
    text: str = ""
    from_me: bool = False
    conversation_ref: str = ""


@dataclass(frozen=True, kw_only=True)
class MessageStatusUpdate(Event):
    message_id: str
    status: MessageStatus
    recipient: ContactRef = field(default_factory=ContactRef)
    error_code: str = ""
    error_title: str = ""
    # Provider extras kept as they came: pricing, conversation, error details...
    details: dict[str, Any] = field(default_factory=dict)


class CallStatus(StrEnum):
    """Where a call got to. Ordered (see `rank`): a late "ringing" never undoes an end."""

    RINGING = "ringing"
    ANSWERED = "answered"  # connected, not ended yet
    MISSED = "missed"  # rang, nobody answered (a voicemail may have been left)
    FAILED = "failed"  # rejected, or never connected
    COMPLETED = "completed"  # answered, then ended

    @property
    def rank(self) -> int:
        return _CALL_RANK[self]


_CALL_RANK = {
    CallStatus.RINGING: 0,
    CallStatus.ANSWERED: 1,
    CallStatus.MISSED: 2,
    CallStatus.FAILED: 2,
    CallStatus.COMPLETED: 3,
}


@dataclass(frozen=True, kw_only=True)
class CallEvent(Event):
    """A call of a conversation, or something learnt about one: that it rings, how it
    ended (answered and for how long, or missed), its voicemail, recording, summary or
    transcript. Every event of one call names it by `call_id`. Those that come once it
    is over (summary, transcript) may name no contact: they complete a call filed before.
    Empty fields are facts this event does not tell."""

    call_id: str
    contact: ContactRef = field(default_factory=ContactRef)
    from_me: bool = False  # the business called the customer
    status: CallStatus | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration: int | None = None  # seconds of conversation
    voicemail: dict[str, Any] = field(default_factory=dict)  # url, type, duration
    recordings: list[dict[str, Any]] = field(default_factory=list)  # url, type, duration
    summary: list[str] = field(default_factory=list)
    next_steps: list[str] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    conversation_ref: str = ""


@dataclass(frozen=True, kw_only=True)
class TemplateStatusChanged(Event):
    template_id: str
    name: str
    language: str
    status: str  # open set: APPROVED, REJECTED, PAUSED, ... as Meta sends it
    reason: str = ""  # "" when Meta sends null
    category: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # rejection/disable/other_info


@dataclass(frozen=True, kw_only=True)
class TemplateQualityChanged(Event):
    template_id: str
    name: str
    language: str
    previous_score: str
    new_score: str


@dataclass(frozen=True, kw_only=True)
class TemplateCategoryChanged(Event):
    template_id: str
    name: str
    language: str
    new_category: str
    previous_category: str = ""
    correct_category: str = ""
    # Set on Meta's advance notice (~24 h ahead): when the change takes effect.
    effective_at: datetime | None = None

    @property
    def is_notice(self) -> bool:
        return self.effective_at is not None


@dataclass(frozen=True, kw_only=True)
class AccountEvent(Event):
    """Account, number and capability changes, and provider-level errors."""

    kind: str  # the provider's field/type: account_update, phone_number_quality_update...
    event: str = ""  # its event value: ACCOUNT_RESTRICTION, THROUGHPUT_UPGRADE, ...
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class RelationAccepted(Event):
    """The connected account has a new relation (LinkedIn: an invitation was accepted,
    ours or one we accepted). `contact` names the person (provider id, name); the
    public identifier is the last part of their profile URL, which is how a lead list
    names them before we know their provider id. Providers may tell it hours late."""

    contact: ContactRef
    public_identifier: str = ""
    profile_url: str = ""


@dataclass(frozen=True, kw_only=True)
class Unsupported(Event):
    """Anything we do not handle (contacts, unknown fields): recorded, acknowledged, never
    an exception."""

    kind: str
    reason: str = ""


_MEDIA_TYPES = {
    "image": MessageType.IMAGE,
    "video": MessageType.VIDEO,
    "audio": MessageType.AUDIO,
}


def message_type_for_mime(mime_type: str) -> MessageType:
    """The message type an attachment makes: by its major MIME type; anything else is
    a file."""
    return _MEDIA_TYPES.get((mime_type or "").split("/")[0], MessageType.DOCUMENT)


def location_text(location: dict) -> str:
    """ "Name, address", or the coordinates of a pin dropped without either."""
    named = [str(location.get(key) or "").strip() for key in ("name", "label", "address")]
    text = ", ".join(part for part in dict.fromkeys(named) if part)
    if text:
        return text
    latitude, longitude = location.get("latitude"), location.get("longitude")
    return f"Location {latitude}, {longitude}" if latitude is not None else "Location"
