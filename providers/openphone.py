"""OpenPhone (now Quo) SMS webhooks.

Quo runs two webhook systems side by side, and a channel may be subscribed to either:
the legacy one (`openphone-signature`, body `data.object`) and the Standard Webhooks one
(`webhook-id`/`webhook-timestamp`/`webhook-signature`, body `data.resource`). `verify`
picks the scheme by the headers present; `parse` reads both envelopes.
"""

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import EmptyWebhookSecretError
from svix.webhooks import Webhook, WebhookVerificationError

from providers import Provider
from providers.base import (
    MAX_SIGNATURE_AGE,
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
    CallEvent,
    CallStatus,
    ContactRef,
    Event,
    InboundMessage,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
    Unsupported,
    message_type_for_mime,
)
from providers.phones import contact_for_address

PROVIDER = Provider.OPENPHONE

LEGACY_SIGNATURE_HEADER = "openphone-signature"
STANDARD_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
# The signatures let a delivery be re-checked later; webhook-id names the delivery.
STORED_HEADERS = (LEGACY_SIGNATURE_HEADER, *STANDARD_HEADERS)


# --- verify -------------------------------------------------------------------------


def verify(request: SignedRequest, secret: str) -> Verification:
    if not secret:
        return refused("no secret configured")
    if any(request.header(name) for name in STANDARD_HEADERS):
        return _verify_standard(request, secret)
    if request.header(LEGACY_SIGNATURE_HEADER):
        return _verify_legacy(request, secret)
    return refused("missing signature")


def _verify_legacy(request: SignedRequest, secret: str) -> Verification:
    """`hmac;1;<timestamp ms>;<base64 digest>`, comma-separated when Quo sends several."""
    try:
        key = base64.b64decode(secret.strip(), validate=True)
    except binascii.Error:
        return refused("secret is not base64")
    matched_but_stale = False
    for entry in request.header(LEGACY_SIGNATURE_HEADER).split(","):
        parsed = _legacy_entry(entry)
        if parsed is None:
            continue
        timestamp, digest = parsed
        signed = timestamp.encode() + b"." + request.body
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
        if not constant_time_equals(expected, digest.encode()):
            continue
        if _is_fresh(int(timestamp) / 1000, request.received_at):
            return VERIFIED
        matched_but_stale = True
    return refused("stale timestamp" if matched_but_stale else "bad signature")


def _legacy_entry(entry: str) -> tuple[str, str] | None:
    parts = entry.strip().split(";")
    if len(parts) != 4:
        return None
    scheme, version, timestamp, digest = parts
    if scheme != "hmac" or version != "1" or not (timestamp.isascii() and timestamp.isdigit()):
        return None
    return timestamp, digest


def _verify_standard(request: SignedRequest, secret: str) -> Verification:
    """Standard Webhooks, checked by svix.

    svix measures the 5-minute tolerance against the wall clock and cannot be given
    another reference, so the timestamp is first checked against `received_at` here;
    svix's own check then agrees as long as verification runs when the request arrives
    (re-verifying a stored request later is refused by svix as too old).
    svix accepts the secret with or without Quo's `whsec_` prefix.
    """
    headers = {name: request.header(name) for name in STANDARD_HEADERS}
    if not all(headers.values()):
        return refused("missing signature")
    timestamp = headers["webhook-timestamp"]
    if not (timestamp.isascii() and timestamp.isdigit()):
        return refused("bad timestamp")
    if not _is_fresh(int(timestamp), request.received_at):
        return refused("stale timestamp")
    try:
        webhook = Webhook(secret)
    except (ValueError, EmptyWebhookSecretError):
        return refused("secret is not a Standard Webhooks key")
    try:
        webhook.verify(request.body, headers)
    # ValueError: a malformed `v1,<sig>` entry or a body that is not UTF-8.
    except (WebhookVerificationError, ValueError):
        return refused("bad signature")
    return VERIFIED


def _is_fresh(signed_at: float, received_at: datetime) -> bool:
    return abs(received_at.timestamp() - signed_at) <= MAX_SIGNATURE_AGE.total_seconds()


# --- parse --------------------------------------------------------------------------


def parse(request: SignedRequest) -> list[Event]:
    envelope = json_object(request.body, provider="OpenPhone")
    event_type = envelope.get("type")
    if not isinstance(event_type, str):
        raise PayloadError("OpenPhone event without a type.")
    parser = _PARSERS.get(event_type, _unsupported)
    return parser(envelope, request)


def _common(
    envelope: dict[str, Any], request: SignedRequest, *, occurred_in: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The fields every event shares. `occurred_in`: the object whose createdAt is the
    event's time when it is not the envelope's (a received message's own creation)."""
    # The envelope id is stable across retries in both systems; webhook-id only names
    # one delivery, so it is the fallback for a body that lacks an id.
    event_id = envelope.get("id") or request.header("webhook-id")
    if not event_id:
        raise PayloadError("OpenPhone event without an id.")
    return {
        "provider": PROVIDER,
        "event_id": f"openphone:{event_id}",
        "occurred_at": _created_at(request, occurred_in or {}, envelope),
        "raw": envelope,
    }


def _created_at(request: SignedRequest, *items: dict[str, Any]) -> datetime:
    """The first `createdAt` found; the arrival time if Quo left them all out."""
    for item in items:
        if item.get("createdAt"):
            return from_iso(item["createdAt"])
    return request.received_at


def _message(envelope: dict[str, Any]) -> dict[str, Any]:
    """The message object: `data.object` (legacy) or `data.resource` (2026-03-30)."""
    data = envelope.get("data")
    message = (data.get("object") or data.get("resource")) if isinstance(data, dict) else None
    if not isinstance(message, dict) or not message.get("id"):
        raise PayloadError(f"OpenPhone {envelope.get('type')} without a message object.")
    return message


def _message_received(envelope: dict[str, Any], request: SignedRequest) -> list[Event]:
    return [_message_event(envelope, request)]


def _message_event(
    envelope: dict[str, Any], request: SignedRequest, *, delivered: bool = False
) -> InboundMessage:
    message = _message(envelope)
    # Messages sent from the Quo app arrive too, as "outgoing": the customer is then `to`.
    # Only our own messages are ever delivered.
    from_me = delivered or message.get("direction") == "outgoing"
    media = [item for item in message.get("media") or [] if isinstance(item, dict)]
    common = _common(envelope, request, occurred_in=message)
    return InboundMessage(
        # A delivery's envelope id names its status; the message it carries is another event.
        **(common | {"event_id": common["event_id"] + (":message" if delivered else "")}),
        message_id=message["id"],
        contact=contact_for_address(_first(message.get("to")) if from_me else message.get("from")),
        type=_media_type(media),
        text=message.get("body") or message.get("text") or "",
        from_me=from_me,
        media={"items": media} if media else {},
        conversation_ref=message.get("conversationId") or "",
    )


def _message_delivered(envelope: dict[str, Any], request: SignedRequest) -> list[Event]:
    """The delivered message itself, then its delivery. A message sent from the Quo app
    (not through us) is first heard of here: it is filed as ours with its text, and
    delivered. One we sent is known already, and only its status moves."""
    message = _message(envelope)
    update = MessageStatusUpdate(
        **_common(envelope, request),
        message_id=message["id"],
        status=MessageStatus.DELIVERED,
        recipient=contact_for_address(_first(message.get("to"))),
    )
    return [_message_event(envelope, request, delivered=True), update]


def _unsupported(envelope: dict[str, Any], request: SignedRequest) -> list[Event]:
    return [Unsupported(**_common(envelope, request), kind=envelope["type"])]


# --- calls ------------------------------------------------------------------------------


def _call(envelope: dict[str, Any], request: SignedRequest, **facts: Any) -> list[Event]:
    """A call object's event (ringing, completed, recording): who, which way, when."""
    call = _message(envelope)
    from_me = call.get("direction") == "outgoing"
    participants = [p for p in call.get("participants") or [] if isinstance(p, str)]
    other = _first(call.get("to")) if from_me else _string(call.get("from"))
    started_at = _optional_time(call.get("createdAt"))
    return [
        CallEvent(
            **_common(envelope, request),
            call_id=call["id"],
            contact=contact_for_address(other or _first(participants)),
            from_me=from_me,
            started_at=started_at,
            answered_at=_optional_time(call.get("answeredAt")),
            ended_at=_optional_time(call.get("completedAt")),
            conversation_ref=_string(call.get("conversationId")),
            **facts,
        )
    ]


def _call_ringing(envelope: dict[str, Any], request: SignedRequest) -> list[Event]:
    return _call(envelope, request, status=CallStatus.RINGING)


def _call_completed(envelope: dict[str, Any], request: SignedRequest) -> list[Event]:
    """Missed calls end too: with `answeredAt` null, and a voicemail if one was left."""
    call = _message(envelope)
    answered_at = _optional_time(call.get("answeredAt"))
    voicemail = call.get("voicemail") if isinstance(call.get("voicemail"), dict) else {}
    return _call(
        envelope,
        request,
        status=CallStatus.COMPLETED if answered_at else CallStatus.MISSED,
        duration=_talk_seconds(call, answered_at),
        voicemail=_present(voicemail, ("url", "type", "duration")),
    )


def _call_recording(envelope: dict[str, Any], request: SignedRequest) -> list[Event]:
    media = [item for item in _message(envelope).get("media") or [] if isinstance(item, dict)]
    recordings = [_present(item, ("url", "type", "duration")) for item in media]
    return _call(envelope, request, recordings=[r for r in recordings if r.get("url")])


def _call_summary(envelope: dict[str, Any], request: SignedRequest) -> list[Event]:
    summary = _call_sequel(envelope)
    return [
        CallEvent(
            **_common(envelope, request),
            call_id=summary["callId"],
            summary=_strings(summary.get("summary")),
            next_steps=_strings(summary.get("nextSteps")),
        )
    ]


def _call_transcript(envelope: dict[str, Any], request: SignedRequest) -> list[Event]:
    transcript = _call_sequel(envelope)
    dialogue = [line for line in transcript.get("dialogue") or [] if isinstance(line, dict)]
    return [
        CallEvent(
            **_common(envelope, request),
            call_id=transcript["callId"],
            transcript=[
                _present(line, ("identifier", "userId", "start", "end", "content"))
                for line in dialogue
            ],
        )
    ]


def _call_sequel(envelope: dict[str, Any]) -> dict[str, Any]:
    """A summary or transcript object: it names its call by `callId` only."""
    data = envelope.get("data")
    item = (data.get("object") or data.get("resource")) if isinstance(data, dict) else None
    if not isinstance(item, dict) or not _string(item.get("callId")):
        raise PayloadError(f"OpenPhone {envelope.get('type')} without a callId.")
    return item


def _talk_seconds(call: dict[str, Any], answered_at: datetime | None) -> int | None:
    duration = call.get("duration")
    if isinstance(duration, int | float):
        return int(duration)
    ended_at = _optional_time(call.get("completedAt"))
    if answered_at and ended_at:
        return max(0, int((ended_at - answered_at).total_seconds()))
    return None


def _optional_time(value: Any) -> datetime | None:
    return from_iso(value) if isinstance(value, str) and value else None


def _present(item: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: item[key] for key in keys if item.get(key) not in (None, "")}


def _strings(value: Any) -> list[str]:
    """Summaries are lists of sentences; a single string is one."""
    items = value if isinstance(value, list) else [value]
    return [item for item in items if isinstance(item, str) and item]


_PARSERS: dict[str, Callable[[dict[str, Any], SignedRequest], list[Event]]] = {
    "message.received": _message_received,
    "message.delivered": _message_delivered,
    "call.ringing": _call_ringing,
    "call.completed": _call_completed,
    "call.recording.completed": _call_recording,
    "call.summary.completed": _call_summary,
    "call.transcript.completed": _call_transcript,
}


def _first(value: str | list[str] | None) -> str:
    """`to` is a string in webhooks and a list in the REST message object."""
    if isinstance(value, list):
        return value[0] if value else ""
    return value or ""


def _media_type(media: list[dict[str, Any]]) -> MessageType:
    if not media:
        return MessageType.TEXT
    return message_type_for_mime(media[0].get("type") or media[0].get("mimeType") or "")


# --- REST message objects (List Messages, contract B4) ------------------------------

# What the REST object's status says beyond "sent" (queued and sent tell nothing new).
_API_STATUSES = {
    "delivered": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
}
_API_DIRECTIONS = {"incoming": False, "outgoing": True}


def events_from_api_message(item: dict[str, Any], *, own_number: str = "") -> list[Event]:
    """A message as `GET /v1/messages` lists it, told as the webhooks would tell it.

    It keeps the message id the webhooks carry, so it is filed once whichever path sees
    it first. An outgoing message is the business's (maybe sent from the Quo app) and is
    followed by its delivery status when OpenPhone reports one beyond "sent".
    `own_number`, the channel's number, tells the other party apart when `direction` is
    missing or `to` names several numbers. An unusable item is `Unsupported`.
    """
    try:
        return _api_message(item, own_number)
    except PayloadError as exc:
        return [_api_unsupported(item, reason=str(exc))]


def _api_message(item: dict[str, Any], own_number: str) -> list[Event]:
    message_id = item.get("id")
    if not isinstance(message_id, str) or not message_id:
        raise PayloadError("OpenPhone message without an id.")
    from_me = _api_from_me(item, own_number)
    created_at = from_iso(item.get("createdAt"))
    if from_me:
        others = [to for to in _recipients(item) if not _same_number(to, own_number)]
        contact = contact_for_address(_first(others))
    else:
        contact = contact_for_address(_string(item.get("from")))
    if contact == ContactRef():
        raise PayloadError("OpenPhone message without the other party's number.")
    media = item.get("media")
    media = [m for m in media if isinstance(m, dict)] if isinstance(media, list) else []
    message = InboundMessage(
        provider=PROVIDER,
        event_id=f"openphone:api:{message_id}",
        occurred_at=created_at,
        raw=item,
        message_id=message_id,
        contact=contact,
        type=_media_type(media),
        text=_string(item.get("text")) or _string(item.get("body")),
        from_me=from_me,
        media={"items": media} if media else {},
        conversation_ref=_string(item.get("conversationId")),
    )
    reported = _string(item.get("status"))
    status = _API_STATUSES.get(reported) if from_me else None
    if status is None:
        return [message]
    failed = status == MessageStatus.FAILED
    update = MessageStatusUpdate(
        provider=PROVIDER,
        event_id=f"openphone:api:{message_id}:{status}",
        occurred_at=_updated_at(item, default=created_at),
        raw=item,
        message_id=message_id,
        status=status,
        recipient=contact,
        # OpenPhone documents no error fields on the message: its status is the reason.
        error_code=reported if failed else "",
        error_title=f"OpenPhone reports the message {reported}." if failed else "",
    )
    return [message, update]


def _api_from_me(item: dict[str, Any], own_number: str) -> bool:
    direction = _string(item.get("direction"))
    if direction in _API_DIRECTIONS:
        return _API_DIRECTIONS[direction]
    if own_number and _same_number(_string(item.get("from")), own_number):
        return True
    if own_number and any(_same_number(to, own_number) for to in _recipients(item)):
        return False
    raise PayloadError(f"OpenPhone message with direction {item.get('direction')!r}.")


def _api_unsupported(item: dict[str, Any], *, reason: str) -> Unsupported:
    try:
        occurred_at = from_iso(item.get("createdAt"))
    except PayloadError:
        occurred_at = datetime.now(UTC)  # the item has no time of its own: the listing's
    return Unsupported(
        provider=PROVIDER,
        event_id=f"openphone:api:{_string(item.get('id'))}",
        occurred_at=occurred_at,
        raw=item,
        kind="api_message",
        reason=reason,
    )


def _updated_at(item: dict[str, Any], *, default: datetime) -> datetime:
    try:
        return from_iso(item.get("updatedAt"))
    except PayloadError:
        return default


def _recipients(item: dict[str, Any]) -> list[str]:
    """`to` as a list of addresses: a list in the REST object, a string in webhooks."""
    to = item.get("to")
    return [a for a in (to if isinstance(to, list) else [to]) if _string(a)]


def _same_number(address: str, own_number: str) -> bool:
    """The same number however it is written (E.164 or not); never for an empty one."""
    return bool(address and own_number) and (
        contact_for_address(address) == contact_for_address(own_number)
    )


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""
