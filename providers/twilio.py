"""Twilio Programmable Messaging webhooks: inbound messages and status callbacks.

Both are form-encoded POSTs signed over the URL plus the POST fields; the SDK's
`RequestValidator` does the signing rules (sorting, repeated names, ports, JSON
bodies with `bodySHA256`). Twilio sends no timestamp, so there is no replay window and
no provider time: events carry the time the request arrived.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import (
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

from providers import Provider
from providers.base import VERIFIED, PayloadError, SignedRequest, Verification, refused
from providers.events import (
    ContactRef,
    Event,
    InboundMessage,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
    Unsupported,
    location_text,
    message_type_for_mime,
)
from providers.http import text_value
from providers.phones import contact_for_address
from providers.text import storable

PROVIDER = Provider.TWILIO

SIGNATURE_HEADER = "x-twilio-signature"
# Twilio's idempotency token is the same on every retry of one webhook.
STORED_HEADERS = (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER.lower(),
    "i-twilio-idempotency-token",
)

_STATUSES = {
    "accepted": MessageStatus.QUEUED,
    "scheduled": MessageStatus.QUEUED,
    "queued": MessageStatus.QUEUED,
    "sending": MessageStatus.QUEUED,
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "undelivered": MessageStatus.FAILED,
    "failed": MessageStatus.FAILED,
    "canceled": MessageStatus.FAILED,
}

# A message type and its type-specific payload.
Content = tuple[MessageType, dict[str, Any]]


# --- verify -------------------------------------------------------------------------


class _PostedFields(dict[str, list[str]]):
    """Every value of every name, in the `getlist` shape the SDK asks for: a plain dict
    would make it sign a name's list as a single value."""

    def getlist(self, name: str) -> list[str]:
        return self[name]


def verify(request: SignedRequest, secret: str) -> Verification:
    if not secret:
        return refused("no secret configured")
    signature = request.header(SIGNATURE_HEADER)
    if not signature:
        return refused("missing signature")
    # A SharedKey-signed webhook names its algorithm; without the header it is HMAC-SHA1.
    algorithm = get_signature_algorithm(request.header(SIGNATURE_SETTINGS_HEADER))
    try:
        params = _signed_params(request)
    except UnicodeDecodeError:
        return refused("bad signature")
    validator = RequestValidator(secret)
    if not validator.validate(request.url, params, signature, algorithm):
        return refused("bad signature")
    return VERIFIED


def _signed_params(request: SignedRequest) -> str | _PostedFields:
    # JSON-body webhooks sign the URL only; the SDK then checks the body against the
    # URL's bodySHA256, which it does when handed the body as a string.
    if "bodySHA256" in parse_qs(urlsplit(request.url).query):
        return request.body.decode("utf-8")
    return _PostedFields(_form(request))


def _form(request: SignedRequest) -> dict[str, list[str]]:
    if request.form:
        return request.form
    return parse_qs(request.body.decode("utf-8"), keep_blank_values=True)


# --- parse --------------------------------------------------------------------------


def parse(request: SignedRequest) -> list[Event]:
    try:
        form = _form(request)
    except UnicodeDecodeError as exc:
        raise PayloadError(f"Twilio body is not form-encoded text: {exc}") from exc
    # Twilio never repeats a name in its webhooks: one value per name is the whole event.
    fields = storable({name: values[0] for name, values in form.items() if values})
    if not fields.get("MessageSid"):
        raise PayloadError("Twilio webhook without a MessageSid.")
    status = fields.get("MessageStatus", "")
    if status and status != "received":
        return [_status_callback(fields, status, request)]
    if fields.get("SmsStatus") == "received" or status == "received" or "Body" in fields:
        return [_inbound(fields, request)]
    return [_unsupported(fields, request, kind=fields.get("SmsStatus") or "unknown")]


def _common(fields: dict[str, str], request: SignedRequest, event_id: str) -> dict[str, Any]:
    return {
        "provider": PROVIDER,
        "event_id": event_id,
        "occurred_at": request.received_at,  # Twilio sends no timestamp.
        "raw": fields,
    }


def _inbound(fields: dict[str, str], request: SignedRequest) -> InboundMessage:
    sid = fields["MessageSid"]
    media = _media(fields)
    message_type, payload = _whatsapp_content(fields) or (_media_type(media), {})
    return InboundMessage(
        **_common(fields, request, f"twilio:message:{sid}"),
        message_id=sid,
        contact=contact_for_address(
            fields.get("From", ""), name=fields.get("ProfileName", ""), wa_id=fields.get("WaId", "")
        ),
        type=message_type,
        # A shared location comes with no Body: its place and address are its text.
        text=fields.get("Body", "")
        or (location_text(payload) if message_type == MessageType.LOCATION else ""),
        media={"items": media} if media else {},
        payload=payload,
    )


def _status_callback(fields: dict[str, str], status: str, request: SignedRequest) -> Event:
    sid = fields["MessageSid"]
    event_id = f"twilio:status:{sid}:{status}"
    if status not in _STATUSES:
        return _unsupported(fields, request, kind=status, event_id=event_id)
    return MessageStatusUpdate(
        **_common(fields, request, event_id),
        message_id=sid,
        status=_STATUSES[status],
        recipient=contact_for_address(fields.get("To", "")),
        error_code=fields.get("ErrorCode", ""),
        error_title=fields.get("ErrorMessage", ""),
    )


def _unsupported(
    fields: dict[str, str], request: SignedRequest, *, kind: str, event_id: str = ""
) -> Unsupported:
    event_id = event_id or f"twilio:{kind}:{fields['MessageSid']}"
    return Unsupported(**_common(fields, request, event_id), kind=kind)


def _media(fields: dict[str, str]) -> list[dict[str, str]]:
    try:
        count = int(fields.get("NumMedia") or 0)
    except ValueError as exc:
        raise PayloadError(f"NumMedia is not a number: {fields['NumMedia']!r}") from exc
    # Each item takes at least one field, which bounds a forged count.
    count = min(count, len(fields))
    return [
        {
            "url": fields.get(f"MediaUrl{n}", ""),
            "content_type": fields.get(f"MediaContentType{n}", ""),
        }
        for n in range(count)
    ]


def _media_type(media: list[dict[str, str]]) -> MessageType:
    if not media:
        return MessageType.TEXT
    return message_type_for_mime(media[0]["content_type"])


def _button(fields: dict[str, str]) -> Content | None:
    if not (fields.get("ButtonText") or fields.get("ButtonPayload")):
        return None
    return MessageType.BUTTON, {
        "text": fields.get("ButtonText", ""),
        "payload": fields.get("ButtonPayload", ""),
    }


def _location(fields: dict[str, str]) -> Content | None:
    if not (fields.get("Latitude") and fields.get("Longitude")):
        return None
    try:
        latitude, longitude = float(fields["Latitude"]), float(fields["Longitude"])
    except ValueError as exc:
        raise PayloadError(f"Location is not numeric: {exc}") from exc
    return MessageType.LOCATION, {
        "latitude": latitude,
        "longitude": longitude,
        "address": fields.get("Address", ""),
        "label": fields.get("Label", ""),
    }


# WhatsApp content that is not text or media, detected by the fields Twilio adds for it.
_WHATSAPP_CONTENT: tuple[Callable[[dict[str, str]], Content | None], ...] = (
    _button,
    _location,
)


def _whatsapp_content(fields: dict[str, str]) -> Content | None:
    return next(filter(None, (detect(fields) for detect in _WHATSAPP_CONTENT)), None)


# --- REST message objects (List Messages, contract C4) ------------------------------

# The statuses past "sent" that a listing reports (queued and sent tell nothing new).
_REPORTED_STATUSES = frozenset({MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.FAILED})


def events_from_api_message(item: dict[str, Any]) -> list[Event]:
    """A message as the Messages list gives it, told as the webhooks would tell it.

    Its `sid` is the MessageSid the webhooks carry, so it is filed once whichever path
    sees it first. An outbound message (`outbound-api`, `-call`, `-reply`) is the
    business's and is followed by its status when Twilio reports one beyond "sent";
    a failure keeps Twilio's error code. An unusable item is `Unsupported`.
    """
    try:
        return _api_message(item)
    except PayloadError as exc:
        return [_api_unsupported(item, reason=str(exc))]


def _api_message(item: dict[str, Any]) -> list[Event]:
    sid = _string(item.get("sid"))
    if not sid:
        raise PayloadError("Twilio message without a sid.")
    direction = _string(item.get("direction"))
    if direction != "inbound" and not direction.startswith("outbound"):
        raise PayloadError(f"Twilio message with direction {item.get('direction')!r}.")
    from_me = direction != "inbound"
    created_at = _from_rfc2822(item.get("date_created") or item.get("date_sent"))
    contact = contact_for_address(_string(item.get("to" if from_me else "from")))
    if contact == ContactRef():
        raise PayloadError("Twilio message without the other party's address.")
    media = _api_media(item)
    message = InboundMessage(
        provider=PROVIDER,
        event_id=f"twilio:api:{sid}",
        occurred_at=created_at,
        raw=item,
        message_id=sid,
        contact=contact,
        # The list names no media types (the message's Media list does): a file, as a
        # webhook item without a content type would be.
        type=message_type_for_mime("") if media else MessageType.TEXT,
        text=_string(item.get("body")),
        from_me=from_me,
        media=media,
    )
    status = _STATUSES.get(_string(item.get("status")))
    if not from_me or status not in _REPORTED_STATUSES:
        return [message]
    failed = status == MessageStatus.FAILED
    update = MessageStatusUpdate(
        provider=PROVIDER,
        event_id=f"twilio:api:{sid}:{status}",
        occurred_at=_time_or(item.get("date_updated"), default=created_at),
        raw=item,
        message_id=sid,
        status=status,
        recipient=contact,
        error_code=text_value(item.get("error_code")) if failed else "",
        error_title=text_value(item.get("error_message")) if failed else "",
    )
    return [message, update]


def _api_media(item: dict[str, Any]) -> dict[str, Any]:
    """How many media the message has, and where Twilio lists them."""
    try:
        count = int(text_value(item.get("num_media")) or 0)
    except ValueError as exc:
        raise PayloadError(f"num_media is not a number: {item.get('num_media')!r}") from exc
    if count <= 0:
        return {}
    uris = item.get("subresource_uris")
    uri = _string(uris.get("media")) if isinstance(uris, dict) else ""
    return {"count": count, "uri": uri} if uri else {"count": count}


def _api_unsupported(item: dict[str, Any], *, reason: str) -> Unsupported:
    return Unsupported(
        provider=PROVIDER,
        event_id=f"twilio:api:{_string(item.get('sid'))}",
        # The item has no usable time of its own: the listing's.
        occurred_at=_time_or(item.get("date_created"), default=datetime.now(UTC)),
        raw=item,
        kind="api_message",
        reason=reason,
    )


def _from_rfc2822(value: Any) -> datetime:
    """Twilio's REST dates: "Mon, 16 Aug 2021 03:45:01 +0000", returned in UTC."""
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, AttributeError) as exc:
        raise PayloadError(f"Not an RFC 2822 date: {value!r}") from exc
    if parsed.tzinfo is None:  # "-0000": UTC, with no claim about the local zone
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _time_or(value: Any, *, default: datetime) -> datetime:
    try:
        return _from_rfc2822(value)
    except PayloadError:
        return default


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""
