"""Phone numbers in E.164, parsed by `phonenumbers` (never by hand)."""

import phonenumbers

# Providers prefix addresses with their channel ("whatsapp:+1555…" from Twilio).
_CHANNEL_PREFIXES = ("whatsapp:", "sms:", "tel:")


class InvalidPhoneNumberError(ValueError):
    pass


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
