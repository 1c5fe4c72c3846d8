"""Meta WhatsApp Cloud API webhooks: signature, GET handshake and parsing.

One POST carries any number of entries (one per WhatsApp Business Account), each with
changes named by `field`. A `messages` change holds inbound messages, outbound statuses
or system-level errors; the other fields are template and account notices. Everything
in the body becomes a normalized event, in payload order (contract A1-A3, A7).
"""

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from providers import Provider
from providers.base import (
    VERIFIED,
    PayloadError,
    SignedRequest,
    Verification,
    constant_time_equals,
    from_unix,
    json_object,
    refused,
)
from providers.events import (
    AccountEvent,
    CallEvent,
    CallStatus,
    ChangeKind,
    ContactRef,
    Event,
    InboundMessage,
    MessageChanged,
    MessageReaction,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
    TemplateCategoryChanged,
    TemplateQualityChanged,
    TemplateStatusChanged,
    Unsupported,
    location_text,
)
from providers.phones import InvalidPhoneNumberError, to_e164

PROVIDER = Provider.WHATSAPP_CLOUD
STORED_HEADERS = ("x-hub-signature-256", "content-type", "user-agent")

_OBJECT = "whatsapp_business_account"
_SIGNATURE_HEADER = "x-hub-signature-256"
_HEX_SHA256 = re.compile(r"[0-9a-f]{64}")


# --- Is it Meta? ------------------------------------------------------------------------


def verify(request: SignedRequest, secret: str) -> Verification:
    """HMAC-SHA256 of the raw body keyed with the App Secret (A1). Meta signs no
    timestamp, so replays are caught by event_id deduplication, not here."""
    if not secret:
        return refused("no secret configured")
    header = request.header(_SIGNATURE_HEADER).strip()
    if not header:
        return refused("missing signature")
    scheme, _, received = header.partition("=")
    received = received.lower()
    if scheme.lower() != "sha256" or not _HEX_SHA256.fullmatch(received):
        return refused("malformed signature")
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not constant_time_equals(expected, received):
        return refused("bad signature")
    return VERIFIED


def handshake(params: Mapping[str, str]) -> tuple[str, str] | None:
    """(verify_token, challenge) of a subscription GET, for the view to check the token
    against its channels and echo the challenge; None when it is not one."""
    token = params.get("hub.verify_token") or ""
    challenge = params.get("hub.challenge") or ""
    if params.get("hub.mode") != "subscribe" or not token or not challenge:
        return None
    if not (token.isascii() and token.isprintable()):
        return None  # ours are URL-safe; a NUL byte used to reach the database
    return token, challenge


def routing_keys(body: bytes) -> list[tuple[str, str]]:
    """(phone_number_id, waba_id) of every change, so the view can find the channel (and
    its secret) before trusting or fully parsing the body."""
    return [(_phone_number_id(_value(change)), _waba_id(entry)) for entry, change in _walk(body)]


# --- Parsing ------------------------------------------------------------------------------


def parse(request: SignedRequest) -> list[Event]:
    events: list[Event] = []
    for entry, change in _walk(request.body):
        context = _Change.of(entry, change, request.received_at)
        handler = _FIELDS.get(context.field, _unknown_field)
        events.extend(handler(context))
    return events


@dataclass(frozen=True)
class _Change:
    """One `entry.changes[]` item with what its events share."""

    field: str
    value: dict[str, Any]
    waba_id: str
    phone_number_id: str
    # entry.time for template/account fields; `messages` changes carry none, so the
    # time we received the POST stands in.
    occurred_at: datetime
    time_key: str  # the same instant, as it goes into event ids

    @classmethod
    def of(cls, entry: dict, change: dict, received_at: datetime) -> "_Change":
        value = _value(change)
        time = entry.get("time")
        return cls(
            field=str(change.get("field") or ""),
            value=value,
            waba_id=_waba_id(entry),
            phone_number_id=_phone_number_id(value),
            occurred_at=received_at if time is None else from_unix(time),
            time_key=str(int(received_at.timestamp()) if time is None else time),
        )

    def common(self, raw: dict[str, Any]) -> dict[str, Any]:
        return {
            "provider": PROVIDER,
            "raw": raw,
            "phone_number_id": self.phone_number_id,
            "waba_id": self.waba_id,
        }


def _walk(body: bytes) -> Iterator[tuple[dict, dict]]:
    """Every (entry, change) pair in payload order; PayloadError if the envelope is not
    Meta's."""
    payload = json_object(body, provider="WhatsApp")
    if payload.get("object") != _OBJECT:
        raise PayloadError(f"Not a WhatsApp Business Account webhook: {payload.get('object')!r}")
    if not isinstance(payload.get("entry"), list):
        raise PayloadError("Body has no `entry` list.")
    for entry in _dicts(payload, "entry"):
        for change in _dicts(entry, "changes"):
            yield entry, change


def _dicts(container: dict, key: str) -> list[dict]:
    """`container[key]` as a list of objects; absent is empty, anything else is a body
    we cannot read."""
    items = container.get(key)
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise PayloadError(f"`{key}` is not a list of objects.")
    return items


def _value(change: dict) -> dict:
    value = change.get("value")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError("`changes[].value` is not an object.")
    return value


def _waba_id(entry: dict) -> str:
    return str(entry.get("id") or "")


def _phone_number_id(value: dict) -> str:
    metadata = value.get("metadata")
    return str(metadata.get("phone_number_id") or "") if isinstance(metadata, dict) else ""


def _required(item: dict, key: str) -> str:
    """An id or timestamp an event cannot be deduplicated or ordered without."""
    value = item.get(key)
    if value is None or value == "":
        raise PayloadError(f"Missing `{key}`.")
    return str(value)


def _present(item: dict, keys: tuple[str, ...]) -> dict[str, Any]:
    return {key: item[key] for key in keys if key in item}


def _digest(value: dict) -> str:
    """Tells apart notices that share a field and second; stable across Meta's retries,
    which resend the same content."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _phone(number: str) -> str:
    # A wa_id that is not a dialable number still identifies the contact; only the
    # E.164 column stays empty.
    try:
        return to_e164(number)
    except InvalidPhoneNumberError:
        return ""


# --- field = "messages" -------------------------------------------------------------------


def _messages(change: _Change) -> list[Event]:
    # Meta puts messages, statuses or errors in a value, never a mix; each is optional.
    contacts = _dicts(change.value, "contacts")
    return [
        *(_inbound(change, message, contacts) for message in _dicts(change.value, "messages")),
        *(_status(change, status) for status in _dicts(change.value, "statuses")),
        *(_system_error(change, error) for error in _dicts(change.value, "errors")),
    ]


def _echoes(change: _Change) -> list[Event]:
    """smb_message_echoes: what the business sent from the WhatsApp Business app (or a
    linked device) on a coexistence number. Each echo is a message like a customer's,
    `from` the business and `to` the customer: ours, filed as outbound."""
    return [
        _inbound(change, echo, [], from_me=True) for echo in _dicts(change.value, "message_echoes")
    ]


@dataclass(frozen=True)
class _Content:
    text: str = ""
    media: dict[str, Any] = field(default_factory=dict)
    payload: dict[str, Any] = field(default_factory=dict)


def _inbound(
    change: _Change, message: dict, contacts: list[dict], *, from_me: bool = False
) -> Event:
    """A message; or a reaction to, edit or revoke of one (they arrive as messages but
    belong on the message they name)."""
    message_id = _required(message, "id")
    kind = str(message.get("type") or "")
    common = {
        **change.common(message),
        "event_id": f"whatsapp:message:{message_id}",
        "occurred_at": from_unix(_required(message, "timestamp")),
        "contact": _recipient_of(message) if from_me else _sender(message, contacts),
        "from_me": from_me,
    }
    if kind in _AMENDMENTS:
        return _AMENDMENTS[kind](message, message_id, common)
    message_type, extract = _MESSAGE_TYPES.get(kind, (MessageType.UNSUPPORTED, _unknown_type))
    content = extract(message)
    return InboundMessage(
        **common,
        message_id=message_id,
        type=message_type,
        text=content.text,
        media=content.media,
        payload=content.payload,
        context=_context(message),
    )


def _reaction_event(message: dict, message_id: str, common: dict) -> MessageReaction:
    reaction = _section(message)
    contact: ContactRef = common["contact"]
    return MessageReaction(
        **common,
        message_id=_required(reaction, "message_id"),
        # No emoji (missing or "") means the user took the reaction back.
        emoji=str(reaction.get("emoji") or ""),
        reaction_id=message_id,
        # 1:1 chats: the customer, or the business (an echo of its own reaction).
        reactor="business" if common["from_me"] else (contact.wa_id or contact.user_id),
    )


def _edit_event(message: dict, message_id: str, common: dict) -> MessageChanged:
    """`edit.message` is the message as it now reads (text, or media with caption)."""
    edit = _section(message)
    edited = edit.get("message") if isinstance(edit.get("message"), dict) else {}
    _, extract = _MESSAGE_TYPES.get(str(edited.get("type") or ""), (None, _unknown_type))
    return MessageChanged(
        **common,
        message_id=_required(edit, "original_message_id"),
        kind=ChangeKind.EDITED,
        change_id=message_id,
        text=extract(edited).text,
    )


def _revoke_event(message: dict, message_id: str, common: dict) -> MessageChanged:
    return MessageChanged(
        **common,
        message_id=_required(_section(message), "original_message_id"),
        kind=ChangeKind.REVOKED,
        change_id=message_id,
    )


_AMENDMENTS: dict[str, Callable[[dict, str, dict], Event]] = {
    "reaction": _reaction_event,
    "edit": _edit_event,
    "revoke": _revoke_event,
}


def _recipient_of(echo: dict) -> ContactRef:
    """Whom an echo went to: the customer the business wrote to."""
    to = str(echo.get("to") or "")
    return ContactRef(
        phone=_phone(to) if to else "", wa_id=to, user_id=str(echo.get("to_user_id") or "")
    )


def _sender(message: dict, contacts: list[dict]) -> ContactRef:
    # Users with a username may come with user_id only: no `from`, no `wa_id` (A2).
    sender = str(message.get("from") or "")
    sender_user_id = str(message.get("from_user_id") or "")
    contact = _matching_contact(contacts, sender, sender_user_id)
    profile = contact.get("profile")
    wa_id = str(contact.get("wa_id") or sender)
    return ContactRef(
        phone=_phone(wa_id) if wa_id else "",
        wa_id=wa_id,
        user_id=str(contact.get("user_id") or sender_user_id),
        name=str(profile.get("name") or "") if isinstance(profile, dict) else "",
    )


def _matching_contact(contacts: list[dict], wa_id: str, user_id: str) -> dict:
    for contact in contacts:
        if wa_id and contact.get("wa_id") == wa_id:
            return contact
        if user_id and contact.get("user_id") == user_id:
            return contact
    # Meta sends one contact with its messages; when no id lines up, it is the sender.
    return contacts[0] if len(contacts) == 1 else {}


def _context(message: dict) -> dict[str, Any]:
    context = dict(message.get("context") or {})
    if "referral" in message:  # Click-to-WhatsApp ads: the conversation's origin
        context["referral"] = message["referral"]
    return context


def _section(message: dict) -> dict:
    """The object named by the message's type: message["image"] for an image..."""
    section = message.get(str(message.get("type") or ""))
    return section if isinstance(section, dict) else {}


_MEDIA_KEYS = ("id", "mime_type", "sha256", "caption", "filename", "url", "voice")


def _text(message: dict) -> _Content:
    return _Content(text=str(_section(message).get("body") or ""))


def _media(message: dict) -> _Content:
    media = _present(_section(message), _MEDIA_KEYS)
    return _Content(text=str(media.get("caption") or ""), media=media)


def _location(message: dict) -> _Content:
    location = _section(message)
    return _Content(text=location_text(location), payload=location)


def _shared_contacts(message: dict) -> _Content:
    # The only type whose section is a list (vCards), not an object.
    cards = [card for card in message.get("contacts") or [] if isinstance(card, dict)]
    names = [_card_name(card) for card in cards]
    text = f"Contact: {', '.join(name for name in names if name) or 'no name'}" if cards else ""
    return _Content(text=text, payload={"contacts": message.get("contacts") or []})


def _card_name(card: dict) -> str:
    name = card.get("name") if isinstance(card.get("name"), dict) else {}
    parts = (name.get("first_name"), name.get("last_name"))
    return str(name.get("formatted_name") or " ".join(str(p) for p in parts if p)).strip()


def _interactive(message: dict) -> _Content:
    interactive = _section(message)
    reply = interactive.get(str(interactive.get("type") or ""))
    reply = reply if isinstance(reply, dict) else {}
    # Button and list replies carry a title; a Flow's nfm_reply carries a body instead.
    return _Content(text=str(reply.get("title") or reply.get("body") or ""), payload=interactive)


def _button(message: dict) -> _Content:
    button = _section(message)
    return _Content(text=str(button.get("text") or ""), payload=button)


def _order(message: dict) -> _Content:
    order = _section(message)
    return _Content(text=_order_text(order), payload=order)


def _order_text(order: dict) -> str:
    """ "Order: 3 items, 2 products (25.98 USD)", then the customer's note if any."""
    items = [item for item in order.get("product_items") or [] if isinstance(item, dict)]
    quantity = sum(_number(item.get("quantity")) for item in items)
    total = sum(_number(item.get("quantity")) * _number(item.get("item_price")) for item in items)
    currencies = {str(item.get("currency") or "") for item in items} - {""}
    summary = f"Order: {quantity:g} item{'s' if quantity != 1 else ''}"
    if len(items) > 1:
        summary += f", {len(items)} products"
    if len(currencies) == 1:
        summary += f" ({total:.2f} {currencies.pop()})"
    note = str(order.get("text") or "").strip()
    return f"{summary}. {note}" if note else summary


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _system(message: dict) -> _Content:
    system = _section(message)
    return _Content(text=str(system.get("body") or ""), payload=system)


def _unsupported(message: dict) -> _Content:
    return _Content(
        payload={
            "errors": message.get("errors") or [],
            "unsupported": message.get("unsupported") or {},
        }
    )


_MESSAGE_ENVELOPE = ("from", "from_user_id", "id", "timestamp", "context", "referral")


def _unknown_type(message: dict) -> _Content:
    # A type Meta added after this module: keep whatever came, "type" included.
    return _Content(payload={k: v for k, v in message.items() if k not in _MESSAGE_ENVELOPE})


_MESSAGE_TYPES: dict[str, tuple[MessageType, Callable[[dict], _Content]]] = {
    "text": (MessageType.TEXT, _text),
    "image": (MessageType.IMAGE, _media),
    "video": (MessageType.VIDEO, _media),
    "sticker": (MessageType.STICKER, _media),
    "audio": (MessageType.AUDIO, _media),
    "document": (MessageType.DOCUMENT, _media),
    "location": (MessageType.LOCATION, _location),
    "contacts": (MessageType.CONTACTS, _shared_contacts),
    "interactive": (MessageType.INTERACTIVE, _interactive),
    "button": (MessageType.BUTTON, _button),
    "order": (MessageType.ORDER, _order),
    "system": (MessageType.SYSTEM, _system),
    "unsupported": (MessageType.UNSUPPORTED, _unsupported),
}

_STATUSES = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.READ,
    "played": MessageStatus.READ,  # first play of a voice note: as good as read
    "failed": MessageStatus.FAILED,
}

_STATUS_DETAILS = (
    "pricing",
    "conversation",
    "errors",
    "biz_opaque_callback_data",
    "recipient_type",
    "recipient_participant_id",
)


def _status(change: _Change, status: dict) -> Event:
    message_id = _required(status, "id")
    raw_status = _required(status, "status")
    # Meta's own status string: `played` and `read` are two events, not one.
    event_id = f"whatsapp:status:{message_id}:{raw_status}"
    occurred_at = from_unix(_required(status, "timestamp"))
    mapped = _STATUSES.get(raw_status)
    if mapped is None:
        return Unsupported(
            **change.common(status),
            event_id=event_id,
            occurred_at=occurred_at,
            kind="status",
            reason=f"unknown status {raw_status!r}",
        )
    errors = _dicts(status, "errors")
    first_error = errors[0] if errors else {}
    return MessageStatusUpdate(
        **change.common(status),
        event_id=event_id,
        occurred_at=occurred_at,
        message_id=message_id,
        status=mapped,
        recipient=_recipient(status),
        error_code=str(first_error["code"]) if "code" in first_error else "",
        error_title=str(first_error.get("title") or ""),
        details=_present(status, _STATUS_DETAILS),
    )


def _recipient(status: dict) -> ContactRef:
    recipient_id = str(status.get("recipient_id") or "")
    user_id = str(status.get("recipient_user_id") or "")
    if status.get("recipient_type") == "group":
        # A group id is not a person's number: keep it, but not as phone or wa_id.
        return ContactRef(provider_id=recipient_id, user_id=user_id)
    return ContactRef(phone=_phone(recipient_id), wa_id=recipient_id, user_id=user_id)


def _system_error(change: _Change, error: dict) -> AccountEvent:
    code = str(error.get("code", ""))
    return AccountEvent(
        **change.common(error),
        event_id=(
            f"whatsapp:errors:{change.waba_id}:{change.phone_number_id}:{code}:{change.time_key}"
        ),
        occurred_at=change.occurred_at,
        kind="errors",
        event=code,
        details=error,
    )


# --- Template and account fields ----------------------------------------------------------


def _template_ref(value: dict) -> dict[str, str]:
    # message_template_id is an integer in webhooks but a string in the REST API: we
    # keep the string so both find the same template.
    return {
        "template_id": _required(value, "message_template_id"),
        "name": str(value.get("message_template_name") or ""),
        "language": str(value.get("message_template_language") or ""),
    }


_TEMPLATE_STATUS_DETAILS = ("rejection_info", "disable_info", "other_info")


def _template_status(change: _Change) -> list[Event]:
    value = change.value
    template = _template_ref(value)
    status = str(value.get("event") or "")
    return [
        TemplateStatusChanged(
            **change.common(value),
            **template,
            event_id=f"whatsapp:template_status:{template['template_id']}:{status}:{change.time_key}",
            occurred_at=change.occurred_at,
            status=status,
            reason=str(value.get("reason") or ""),  # null when scheduled for deletion
            category=str(value.get("message_template_category") or ""),
            details=_present(value, _TEMPLATE_STATUS_DETAILS),
        )
    ]


def _template_quality(change: _Change) -> list[Event]:
    value = change.value
    template = _template_ref(value)
    new_score = str(value.get("new_quality_score") or "")
    return [
        TemplateQualityChanged(
            **change.common(value),
            **template,
            event_id=f"whatsapp:template_quality:{template['template_id']}:{new_score}:{change.time_key}",
            occurred_at=change.occurred_at,
            previous_score=str(value.get("previous_quality_score") or ""),
            new_score=new_score,
        )
    ]


def _template_category(change: _Change) -> list[Event]:
    # Two variants share the field: a completed change (previous_category) and a notice
    # about 24 h ahead (correct_category + category_update_timestamp).
    value = change.value
    template = _template_ref(value)
    new_category = str(value.get("new_category") or "")
    effective = value.get("category_update_timestamp")
    variant = "change" if effective is None else "notice"
    return [
        TemplateCategoryChanged(
            **change.common(value),
            **template,
            event_id=(
                f"whatsapp:template_category:{template['template_id']}:{variant}:"
                f"{new_category}:{change.time_key}"
            ),
            occurred_at=change.occurred_at,
            new_category=new_category,
            previous_category=str(value.get("previous_category") or ""),
            correct_category=str(value.get("correct_category") or ""),
            effective_at=None if effective is None else from_unix(effective),
        )
    ]


def _account_event(change: _Change) -> list[Event]:
    value = change.value
    event = str(value.get("event") or "")  # business_capability_update has none
    return [
        AccountEvent(
            **change.common(value),
            event_id=(
                f"whatsapp:{change.field}:{change.waba_id}:{event}:{change.time_key}:"
                f"{_digest(value)}"
            ),
            occurred_at=change.occurred_at,
            kind=change.field,
            event=event,
            details=value,
        )
    ]


# --- field = "calls" (Calling API) ---------------------------------------------------


def _calls(change: _Change) -> list[Event]:
    """Calls a customer makes (connect, then terminate) and the statuses of the calls
    the business makes (ringing, accepted, rejected)."""
    contacts = _dicts(change.value, "contacts")
    return [
        *(_call(change, call, contacts) for call in _dicts(change.value, "calls")),
        *(_call_status(change, status) for status in _dicts(change.value, "statuses")),
    ]


def _call(change: _Change, call: dict, contacts: list[dict]) -> CallEvent:
    call_id = _required(call, "id")
    event = str(call.get("event") or "")
    from_me = str(call.get("direction") or "").upper() == "BUSINESS_INITIATED"
    customer = str((call.get("to") if from_me else call.get("from")) or "")
    contact = _matching_contact(contacts, customer, "")
    profile = contact.get("profile")
    started = call.get("start_time") or (call.get("timestamp") if event == "connect" else None)
    return CallEvent(
        **change.common(call),
        event_id=f"whatsapp:call:{call_id}:{event}",
        occurred_at=from_unix(_required(call, "timestamp")),
        call_id=call_id,
        contact=ContactRef(
            phone=_phone(customer) if customer else "",
            wa_id=customer,
            user_id=str(contact.get("user_id") or ""),
            name=str(profile.get("name") or "") if isinstance(profile, dict) else "",
        ),
        from_me=from_me,
        status=_call_end(call, from_me) if event == "terminate" else CallStatus.RINGING,
        started_at=from_unix(started) if started else None,
        ended_at=from_unix(call["end_time"]) if call.get("end_time") else None,
        duration=int(call["duration"]) if call.get("duration") else None,
    )


def _call_end(call: dict, from_me: bool) -> CallStatus:
    """Meta ends every call with `terminate`: COMPLETED once it was connected (it has a
    duration), FAILED otherwise; a customer's call nobody took is a missed call."""
    if str(call.get("status") or "").upper() == "COMPLETED" and call.get("duration"):
        return CallStatus.COMPLETED
    return CallStatus.FAILED if from_me else CallStatus.MISSED


_CALL_STATUSES = {
    "RINGING": CallStatus.RINGING,
    "ACCEPTED": CallStatus.ANSWERED,
    "REJECTED": CallStatus.FAILED,
}


def _call_status(change: _Change, status: dict) -> Event:
    """A call the business placed: the customer's phone rings, they accept or reject."""
    call_id = _required(status, "id")
    raw_status = str(status.get("status") or "").upper()
    occurred_at = from_unix(_required(status, "timestamp"))
    mapped = _CALL_STATUSES.get(raw_status)
    if mapped is None:
        return Unsupported(
            **change.common(status),
            event_id=f"whatsapp:call:{call_id}:{raw_status}",
            occurred_at=occurred_at,
            kind="call_status",
            reason=f"unknown call status {raw_status!r}",
        )
    return CallEvent(
        **change.common(status),
        event_id=f"whatsapp:call:{call_id}:{raw_status}",
        occurred_at=occurred_at,
        call_id=call_id,
        contact=_recipient(status),
        from_me=True,
        status=mapped,
        answered_at=occurred_at if mapped == CallStatus.ANSWERED else None,
    )


def _unknown_field(change: _Change) -> list[Event]:
    # User preferences, echoes...: recorded and acknowledged, handled elsewhere
    # if ever.
    return [
        Unsupported(
            **change.common(change.value),
            event_id=(
                f"whatsapp:{change.field}:{change.waba_id}:{change.time_key}:"
                f"{_digest(change.value)}"
            ),
            occurred_at=change.occurred_at,
            kind=change.field,
            reason="field not handled",
        )
    ]


_FIELDS: dict[str, Callable[[_Change], list[Event]]] = {
    "messages": _messages,
    "message_template_status_update": _template_status,
    "message_template_quality_update": _template_quality,
    "template_category_update": _template_category,
    "phone_number_quality_update": _account_event,
    "account_update": _account_event,
    "business_capability_update": _account_event,
    "smb_message_echoes": _echoes,
    "calls": _calls,
}
