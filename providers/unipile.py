"""Unipile messaging webhooks (v1): LinkedIn and other accounts connected through Unipile.

Unipile signs nothing: the webhook carries a shared-secret header that we chose when
creating it (`Unipile-Auth`), and no timestamp, so redeliveries are recognised only by
`event_id`. Our own messages (sent from another device) arrive as `message_received`
too and are told apart by comparing the sender with the connected account's user id:
the payload's `account_info.user_id`, or when a payload lacks it, the one the channel
knows (`SignedRequest.own_ids`, learnt from earlier payloads by `account_user_id`).
"""

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from providers import Provider
from providers.base import (
    VERIFIED,
    PayloadError,
    SignedRequest,
    Verification,
    constant_time_equals,
    from_iso,
    json_object,
    refused,
)
from providers.events import (
    ChangeKind,
    ContactRef,
    Event,
    InboundMessage,
    MessageChanged,
    MessageReaction,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
    Unsupported,
)
from providers.unipile_relations import new_relation

PROVIDER = Provider.UNIPILE

AUTH_HEADER = "unipile-auth"
# Never the auth header: it is the secret itself. Content-Type tells whether the webhook
# was created with the JSON header (API-created ones send none by default).
STORED_HEADERS = ("content-type",)

_ATTACHMENT_TYPES = {
    "img": MessageType.IMAGE,
    "video": MessageType.VIDEO,
    "audio": MessageType.AUDIO,
    "file": MessageType.DOCUMENT,
}

_STATUSES = {
    "message_read": MessageStatus.READ,
    "message_delivered": MessageStatus.DELIVERED,
}


# --- verify -------------------------------------------------------------------------


def verify(request: SignedRequest, secret: str) -> Verification:
    if not secret:
        return refused("no secret configured")
    supplied = request.header(AUTH_HEADER)
    if not supplied:
        return refused("missing signature")
    if not constant_time_equals(supplied, secret):
        return refused("bad signature")
    return VERIFIED


# --- parse --------------------------------------------------------------------------


def parse(request: SignedRequest) -> list[Event]:
    body = json_object(request.body, provider="Unipile")
    if isinstance(body.get("payload"), dict) and "type" in body:
        return [_v2(body, request)]
    event = body.get("event")
    if not isinstance(event, str):
        raise PayloadError("Unipile webhook without an event.")
    parser = _PARSERS.get(event, _unsupported)
    return [parser(body, request)]


def _common(body: dict[str, Any], request: SignedRequest, event_id: str) -> dict[str, Any]:
    return {
        "provider": PROVIDER,
        "event_id": event_id,
        "occurred_at": _occurred_at(body.get("timestamp"), request),
        "raw": body,
    }


def _occurred_at(timestamp: str | None, request: SignedRequest) -> datetime:
    return from_iso(timestamp) if timestamp else request.received_at


def _message_id(body: dict[str, Any]) -> str:
    message_id = body.get("message_id")
    if not message_id:
        raise PayloadError(f"Unipile {body.get('event')} without a message_id.")
    return message_id


def account_user_id(request: SignedRequest) -> str:
    """The connected account's own user id, when the payload names it."""
    try:
        body = json_object(request.body, provider="Unipile")
    except PayloadError:
        return ""
    info = body.get("account_info")
    user_id = info.get("user_id") if isinstance(info, dict) else None
    return user_id if isinstance(user_id, str) else ""


def _message_received(body: dict[str, Any], request: SignedRequest) -> InboundMessage:
    message_id = _message_id(body)
    ours = _own_ids(body, request)
    from_me = _is_us(ours, body.get("sender"))
    attachments = _attachments(body.get("attachments"))
    return InboundMessage(
        **_common(body, request, f"unipile:{message_id}:message_received"),
        message_id=message_id,
        contact=_counterpart(body, ours) if from_me else _attendee(body.get("sender")),
        type=_attachment_type(attachments),
        text=body.get("message") or "",
        from_me=from_me,
        media={"items": attachments} if attachments else {},
        conversation_ref=body.get("chat_id") or "",
    )


def _message_reaction(body: dict[str, Any], request: SignedRequest) -> MessageReaction:
    message_id = _message_id(body)
    reactor = body.get("reaction_sender") or {}
    emoji = body.get("reaction") or ""  # empty: taken back
    reactor_id = reactor.get("attendee_provider_id") or reactor.get("attendee_id") or ""
    # A reaction has no id of its own: the reacted message, emoji and reactor name it.
    reaction_id = f"{message_id}:message_reaction:{emoji}:{reactor_id}"
    ours = _own_ids(body, request)
    from_me = _is_us(ours, reactor)
    return MessageReaction(
        **_common(body, request, f"unipile:{reaction_id}"),
        message_id=message_id,
        contact=_counterpart(body, ours) if from_me else _attendee(reactor),
        reactor=reactor_id,
        emoji=emoji,
        from_me=from_me,
        conversation_ref=body.get("chat_id") or "",
    )


def _message_changed(body: dict[str, Any], request: SignedRequest) -> MessageChanged:
    """message_edited (the new text in `message`) and message_deleted."""
    message_id = _message_id(body)
    event = body["event"]
    kind = ChangeKind.EDITED if event == "message_edited" else ChangeKind.REVOKED
    text = body.get("message") or ""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]  # two edits, two events
    ours = _own_ids(body, request)
    from_me = _is_us(ours, body.get("sender"))
    return MessageChanged(
        **_common(body, request, f"unipile:{message_id}:{event}:{body.get('timestamp')}:{digest}"),
        message_id=message_id,
        contact=_counterpart(body, ours) if from_me else _attendee(body.get("sender")),
        kind=kind,
        text=text,
        from_me=from_me,
        conversation_ref=body.get("chat_id") or "",
    )


def _status(body: dict[str, Any], request: SignedRequest) -> MessageStatusUpdate:
    message_id = _message_id(body)
    return MessageStatusUpdate(
        **_common(body, request, f"unipile:{message_id}:{body['event']}"),
        message_id=message_id,
        status=_STATUSES[body["event"]],
        recipient=_counterpart(body, _own_ids(body, request)),
    )


def _unsupported(body: dict[str, Any], request: SignedRequest) -> Unsupported:
    event = body["event"]
    event_id = f"unipile:{body.get('message_id') or ''}:{event}"
    return Unsupported(**_common(body, request, event_id), kind=event)


def _v2(body: dict[str, Any], request: SignedRequest) -> Unsupported:
    return Unsupported(
        provider=PROVIDER,
        event_id=f"unipile:v2:{body.get('id') or ''}",
        occurred_at=_occurred_at(body.get("created_at"), request),
        raw=body,
        kind=str(body["type"]),
        reason="Unipile v2 webhooks are not supported; configure v1",
    )


_PARSERS: dict[str, Callable[[dict[str, Any], SignedRequest], Event]] = {
    "message_received": _message_received,
    "message_reaction": _message_reaction,
    "message_edited": _message_changed,
    "message_deleted": _message_changed,
    "message_read": _status,
    "message_delivered": _status,
    # Source `users`: a LinkedIn relation, our invitation accepted (providers.unipile_relations).
    "new_relation": new_relation,
}


def _own_ids(body: dict[str, Any], request: SignedRequest) -> frozenset[str]:
    """The connected account's ids: the payload's `account_info.user_id`, and the ones
    the channel knows (a payload may come without account_info)."""
    info = body.get("account_info")
    ids = {info.get("user_id") if isinstance(info, dict) else None, *request.own_ids}
    return frozenset(i for i in ids if isinstance(i, str) and i)


def _is_us(ours: frozenset[str], attendee: dict[str, Any] | None) -> bool:
    # The webhook has no from-me flag; the connected account's own id is the tell.
    return (attendee or {}).get("attendee_provider_id") in ours


def _counterpart(body: dict[str, Any], ours: frozenset[str]) -> ContactRef:
    """The first attendee who is not the connected account: whom we talk to."""
    others = (a for a in body.get("attendees") or [] if not _is_us(ours, a))
    return _attendee(next(others, None))


def _attendee(attendee: dict[str, Any] | None) -> ContactRef:
    attendee = attendee or {}
    return ContactRef(
        provider_id=attendee.get("attendee_provider_id") or "",
        name=attendee.get("attendee_name") or "",
    )


def _attachments(value: dict[str, Any] | list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """Documented as one object, seen as a list: always a list here."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, dict)]


def _attachment_type(attachments: list[dict[str, Any]]) -> MessageType:
    if not attachments:
        return MessageType.TEXT
    return _ATTACHMENT_TYPES.get(attachments[0].get("type"), MessageType.DOCUMENT)


# --- REST message objects (GET /api/v1/messages) -------------------------------------

# Flags the REST object sends as 0/1 (sometimes booleans or strings).
_TRUE = frozenset({"1", "true"})


def events_from_api_message(
    item: dict[str, Any], *, account_user_id: str = "", counterpart: ContactRef | None = None
) -> list[Event]:
    """A message as Unipile's message list gives it, told as the webhooks would tell it.

    Its `id` is the `message_id` the webhooks carry, so it is filed once whichever path
    sees it first; `chat_id` becomes the conversation ref. Our own messages
    (`is_sender`, or a sender that is `account_user_id`) are followed by their status
    when Unipile reports them delivered or seen.

    The REST object names only the sender, so for our own messages the caller passes
    `counterpart`, whom the chat is with (from the stored conversation of `chat_id`, or
    an incoming message of the same chat). Without it an own message cannot be filed:
    it is `Unsupported`, and its status is still reported. Any unusable item is
    `Unsupported`, never an exception.
    """
    try:
        return _api_message(item, account_user_id, counterpart)
    except PayloadError as exc:
        return [_api_unsupported(item, reason=str(exc))]


def _api_message(
    item: dict[str, Any], account_user_id: str, counterpart: ContactRef | None
) -> list[Event]:
    message_id = _string(item.get("id")) or _string(item.get("message_id"))
    if not message_id:
        raise PayloadError("Unipile message without an id.")
    if _flag(item.get("is_event")):
        raise PayloadError("Unipile chat event (not a message).")
    occurred_at = from_iso(item.get("timestamp"))
    sender_id = _string(item.get("sender_id"))
    from_me = _flag(item.get("is_sender")) or bool(account_user_id and sender_id == account_user_id)
    contact = counterpart if from_me else ContactRef(provider_id=sender_id)
    update = _api_status(item, message_id, occurred_at, contact) if from_me else None
    if contact is None or contact == ContactRef():
        reason = "own message with no counterpart given" if from_me else "no sender_id"
        unsupported = _api_unsupported(item, reason=f"Unipile message with {reason}.")
        return [unsupported, update] if update else [unsupported]
    attachments = _attachments(item.get("attachments"))
    message = InboundMessage(
        provider=PROVIDER,
        event_id=f"unipile:api:{message_id}",
        occurred_at=occurred_at,
        raw=item,
        message_id=message_id,
        contact=contact,
        type=_attachment_type(attachments),
        text=_string(item.get("text")),
        from_me=from_me,
        media={"items": attachments} if attachments else {},
        conversation_ref=_string(item.get("chat_id")),
    )
    amendments = _api_amendments(item, message, account_user_id)
    return [message, *amendments, update] if update else [message, *amendments]


def _api_amendments(
    item: dict[str, Any], message: InboundMessage, account_user_id: str
) -> list[Event]:
    """What the webhooks would have told of a listed message: its current reactions and
    its deletion. The list gives no time for either: the message's own stands in, so a
    webhook's (always later) reaction or removal wins over it."""
    common = {
        "provider": PROVIDER,
        "occurred_at": message.occurred_at,
        "raw": item,
        "message_id": message.message_id,
        "contact": message.contact,
        "conversation_ref": message.conversation_ref,
    }
    events: list[Event] = []
    for reaction in item.get("reactions") or []:
        if not isinstance(reaction, dict) or not _string(reaction.get("value")):
            continue
        reactor = _string(reaction.get("sender_id"))
        from_me = _flag(reaction.get("is_sender")) or bool(reactor and reactor == account_user_id)
        emoji = _string(reaction.get("value"))
        events.append(
            MessageReaction(
                **common,
                event_id=f"unipile:api:{message.message_id}:reaction:{reactor}:{emoji}",
                reactor=reactor,
                emoji=emoji,
                from_me=from_me,
            )
        )
    if _flag(item.get("deleted")):
        events.append(
            MessageChanged(
                **common,
                event_id=f"unipile:api:{message.message_id}:deleted",
                kind=ChangeKind.REVOKED,
                from_me=message.from_me,
            )
        )
    return events


def _api_status(
    item: dict[str, Any], message_id: str, occurred_at: datetime, recipient: ContactRef | None
) -> MessageStatusUpdate | None:
    """Seen beats delivered; Unipile reports no failures and no time for either, so the
    message's own time stands in."""
    if _flag(item.get("seen")):
        status = MessageStatus.READ
    elif _flag(item.get("delivered")):
        status = MessageStatus.DELIVERED
    else:
        return None
    return MessageStatusUpdate(
        provider=PROVIDER,
        event_id=f"unipile:api:{message_id}:{status}",
        occurred_at=occurred_at,
        raw=item,
        message_id=message_id,
        status=status,
        recipient=recipient or ContactRef(),
    )


def _api_unsupported(item: dict[str, Any], *, reason: str) -> Unsupported:
    try:
        occurred_at = from_iso(item.get("timestamp"))
    except PayloadError:
        occurred_at = datetime.now(UTC)  # the item has no time of its own: the listing's
    message_id = _string(item.get("id")) or _string(item.get("message_id"))
    return Unsupported(
        provider=PROVIDER,
        event_id=f"unipile:api:{message_id}",
        occurred_at=occurred_at,
        raw=item,
        kind="api_message",
        reason=reason,
    )


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in _TRUE


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""
