"""Phone numbers in E.164, parsed by `phonenumbers` (never by hand)."""

import functools

import phonenumbers

from providers.events import ContactRef

# Providers prefix addresses with their channel ("whatsapp:+1555…" from Twilio).
_CHANNEL_PREFIXES = ("whatsapp:", "sms:", "tel:")


class InvalidPhoneNumberError(ValueError):
    pass


@functools.lru_cache(maxsize=65536)  # pure, and the same customers write again and again
def to_e164(raw: str, *, default_region: str | None = None) -> str:
    """Return `raw` as an E.164 string ("+15555550100"), or raise InvalidPhoneNumberError.

    Meta sends numbers without the "+" ("16505551234"); those are international by
    definition, so a bare run of digits is read as one when no region is given.
    """
    text = (raw or "").strip()
    for prefix in _CHANNEL_PREFIXES:
        if text.lower().startswith(prefix):
            text = text[len(prefix) :]
    if not text:
        raise InvalidPhoneNumberError("A phone number is required.")
    if not text.startswith("+") and default_region is None and text.isdigit():
        text = f"+{text}"
    try:
        parsed = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumberError(f"{raw!r} is not a phone number: {exc}") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumberError(f"{raw!r} is not a possible phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def contact_for_address(address: str | None, *, name: str = "", wa_id: str = "") -> ContactRef:
    """A contact named by a provider address: a phone number when it is one; short
    codes and alphanumeric senders are not E.164, so they are kept as the provider id
    rather than refusing the whole event."""
    try:
        return ContactRef(phone=to_e164(address or ""), name=name, wa_id=wa_id)
    except InvalidPhoneNumberError:
        return ContactRef(provider_id=address or "", name=name, wa_id=wa_id)
