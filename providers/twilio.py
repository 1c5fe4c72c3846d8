"""Twilio Programmable Messaging webhooks: inbound messages and status callbacks.

Both are form-encoded POSTs signed over the URL plus the POST fields; the SDK's
`RequestValidator` does the signing rules (sorting, repeated names, ports, JSON
bodies with `bodySHA256`). Twilio sends no timestamp, so there is no replay window and
no provider time: events carry the time the request arrived.
"""

from collections.abc import Callable
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
    Event,
    InboundMessage,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
    Unsupported,
    message_type_for_mime,
)
from providers.phones import contact_for_address

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
    fields = {name: values[0] for name, values in form.items() if values}
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
        text=fields.get("Body", ""),
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
