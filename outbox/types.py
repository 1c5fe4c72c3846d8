"""The catalogue of event types: each one's name, body schema version and body.

A body is a frozen dataclass of plain values; `body_json` turns it into the stored
JSON and `body_schema` into its OpenAPI component (outbox.schema), so what is stored
and what is documented cannot drift apart. Changing a body incompatibly means a new
version (receivers read `version` before the body); adding an optional field does not.

The bodies live here, not in the apps that record them, because the catalogue is a
contract with the outside (subscriptions, the stream) and this app is below them all.
"""

import dataclasses
import types
import typing
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class MessageBody:
    """A message, as message.received and message.sent describe it."""

    message_id: int
    conversation_id: int
    channel_id: int
    contact_id: int
    direction: str  # inbound, outbound
    type: str  # text, image, template, call...
    text: str
    provider_message_id: str
    status: str
    occurred_at: datetime
    # message.received: whether the channel's automated responder may answer (the
    # conversation's bot_active as the message was filed); always false on sent ones.
    bot_active: bool = False


@dataclass(frozen=True)
class MessageStatusBody:
    message_id: int
    conversation_id: int
    channel_id: int
    provider_message_id: str
    status: str  # sent, delivered, read, failed
    previous_status: str
    error_code: str  # the failure's, when status is failed
    error_title: str
    occurred_at: datetime


@dataclass(frozen=True)
class ConversationBody:
    conversation_id: int
    channel_id: int
    contact_id: int
    status: str
    created_at: datetime


@dataclass(frozen=True)
class ConversationAssignedBody:
    conversation_id: int
    channel_id: int
    assignee_id: int | None  # None: unassigned
    previous_assignee_id: int | None


@dataclass(frozen=True)
class ConversationStatusBody:
    conversation_id: int
    channel_id: int
    status: str  # open, snoozed, closed...
    previous_status: str
    snoozed_until: datetime | None


@dataclass(frozen=True)
class TemplateStatusBody:
    template_id: int
    channel_id: int
    name: str
    language: str
    status: str
    previous_status: str
    reason: str  # Meta's rejection reason, when rejected
    source: str  # webhook, sync, submission...
    occurred_at: datetime


@dataclass(frozen=True)
class ConsentBody:
    """contact.opted_out and contact.opted_in: one (channel kind, scope) changed."""

    contact_id: int
    kind: str  # whatsapp, sms, linkedin
    scope: str  # service, marketing
    state: str
    previous_state: str
    source: str  # keyword, api, admin, import, provider_error
    message_id: int | None  # the message that said STOP, or the refused one
    changed_at: datetime


@dataclass(frozen=True)
class ReactionBody:
    """message.reaction: a reactor's current reaction to a message changed."""

    message_id: int | None  # ours; None while the message reacted to is not filed yet
    provider_message_id: str  # the provider's id of the message reacted to
    conversation_id: int
    channel_id: int
    contact_id: int
    reactor: str  # the provider's id of who reacted ("business" on WhatsApp: us)
    direction: str  # inbound: the customer reacted; outbound: the business did
    emoji: str  # "": the reaction was taken back
    occurred_at: datetime


@dataclass(frozen=True)
class WindowExpiringBody:
    conversation_id: int
    channel_id: int
    contact_id: int
    window_expires_at: datetime  # free-form messages are refused from then on


@dataclass(frozen=True)
class EnrollmentBody:
    """campaign.enrollment.replied and .completed: a lead's enrollment finished."""

    enrollment_id: int
    campaign_id: int
    channel_id: int
    contact_id: int
    conversation_id: int | None  # None: no message was exchanged with the lead yet
    state: str  # replied, completed
    replied_at: datetime | None  # the lead's reply (replied only)
    finished_at: datetime


@dataclass(frozen=True)
class WebhookDeadBody:
    webhook_event_id: int
    provider: str
    channel_id: int | None
    attempts: int
    error_type: str  # the last attempt's exception class (the text stays in the admin)
    received_at: datetime
    dead_at: datetime


@dataclass(frozen=True)
class HealthCheckBody:
    """health_check.failed and .recovered: the channel's webhook health changed."""

    health_check_id: int
    channel_id: int
    result: str  # confirmed, timed_out, send_failed
    previous_result: str  # the channel's previous settled check; "" if none
    sent_at: datetime
    latency_ms: int | None  # the webhook's delay, when it arrived
    settled_at: datetime


@dataclass(frozen=True)
class HandedOffBody:
    conversation_id: int
    channel_id: int
    by_user_id: int | None  # the agent who took over; None: by an API client
    occurred_at: datetime


@dataclass(frozen=True)
class BurstMessage:
    """One customer message of a burst."""

    message_id: int
    provider_message_id: str
    type: str  # text, image, audio...
    text: str
    occurred_at: datetime  # the provider's timestamp


@dataclass(frozen=True)
class BurstBody:
    """conversation.burst: what the customer wrote in one go, for the responder."""

    burst_id: int
    conversation_id: int
    channel_id: int
    contact_id: int
    messages: list[BurstMessage]  # in the order they were filed
    # When the first and last message were recorded here: the quiet period counts
    # from the last one.
    first_at: datetime
    last_at: datetime


@dataclass(frozen=True)
class EventType:
    name: str
    version: int
    body: type
    description: str

    @property
    def component(self) -> str:
        """The body's OpenAPI component name: message.received v1 -> MessageReceivedV1."""
        words = self.name.replace("_", ".").split(".")
        return "".join(word.capitalize() for word in words) + f"V{self.version}"


EVENT_TYPES: dict[str, EventType] = {
    t.name: t
    for t in [
        EventType("message.received", 1, MessageBody, "A customer's message was filed."),
        EventType(
            "message.sent",
            1,
            MessageBody,
            "The provider accepted a message the business sent (or reported one sent "
            "from its own app).",
        ),
        EventType(
            "message.status_changed",
            1,
            MessageStatusBody,
            "A message moved to a later status (sent, delivered, read, failed with the "
            "provider's reason).",
        ),
        EventType("conversation.created", 1, ConversationBody, "A conversation began."),
        EventType("conversation.assigned", 1, ConversationAssignedBody, "Its assignee changed."),
        EventType(
            "conversation.status_changed",
            1,
            ConversationStatusBody,
            "Its status changed (an agent, or the customer writing to a closed one).",
        ),
        EventType(
            "template.status_changed",
            1,
            TemplateStatusBody,
            "A WhatsApp template's approval status changed.",
        ),
        EventType("contact.opted_out", 1, ConsentBody, "A contact opted out of a scope."),
        EventType("contact.opted_in", 1, ConsentBody, "A contact opted (back) in."),
        EventType(
            "message.reaction",
            1,
            ReactionBody,
            "Someone's reaction to a message changed: added, replaced or taken back (emoji empty).",
        ),
        EventType(
            "window.expiring",
            1,
            WindowExpiringBody,
            "One hour or less is left in a conversation's WhatsApp 24-hour window (once "
            "per expiry: a customer message that moves it brings a new one).",
        ),
        EventType(
            "campaign.enrollment.replied",
            1,
            EnrollmentBody,
            "A lead wrote after their enrollment started: their steps stopped.",
        ),
        EventType(
            "campaign.enrollment.completed",
            1,
            EnrollmentBody,
            "A lead went through every step of their campaign.",
        ),
        EventType(
            "webhook.dead",
            1,
            WebhookDeadBody,
            "A provider webhook failed its last attempt; it waits for an operator.",
        ),
        EventType(
            "health_check.failed",
            1,
            HealthCheckBody,
            "A channel's webhook health check failed after passing (or never being run).",
        ),
        EventType(
            "health_check.recovered",
            1,
            HealthCheckBody,
            "A channel's webhook health check passed again after failing.",
        ),
        EventType(
            "conversation.handed_off",
            1,
            HandedOffBody,
            "An agent took a conversation over from its automated responder.",
        ),
        EventType(
            "conversation.burst",
            1,
            BurstBody,
            "A customer's messages to a conversation its channel's responder handles, "
            "gathered until they were quiet for a moment (or the maximum wait passed).",
        ),
    ]
}


def body_json(body) -> dict:
    """The stored body: datetimes as ISO 8601 strings (in lists of parts too),
    everything else as is."""
    return _plain(dataclasses.asdict(body))


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {name: _plain(inner) for name, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return value


_PLAIN = {
    str: {"type": "string"},
    int: {"type": "integer"},
    bool: {"type": "boolean"},
    datetime: {"type": "string", "format": "date-time"},
}


def body_schema(event_type: EventType) -> dict:
    """The body's OpenAPI schema (every field is always present; some may be null)."""
    return {
        **_object_schema(event_type.body),
        "description": f"`{event_type.name}` version {event_type.version}: "
        f"{event_type.description}",
    }


def _object_schema(body: type) -> dict:
    hints = typing.get_type_hints(body)
    fields = [f.name for f in dataclasses.fields(body)]
    return {
        "type": "object",
        "properties": {name: _field_schema(hints[name]) for name in fields},
        "required": fields,
    }


def _field_schema(hint) -> dict:
    if typing.get_origin(hint) is list:  # a list of parts (a dataclass each)
        (part,) = typing.get_args(hint)
        return {"type": "array", "items": _object_schema(part)}
    if isinstance(hint, types.UnionType):
        (inner,) = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return {**_PLAIN[inner], "nullable": True}
    return dict(_PLAIN[hint])
