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


def valid_e164(raw: str, *, default_region: str | None = None) -> str:
    """Like `to_e164`, but also refuses numbers that are possible in length yet assigned
    to nothing in their region (+1 555 01xx, a German mobile prefix that does not
    exist): what we create or send to ourselves must be a number someone can have.

    Numbers from providers are filed with `to_e164` only: a customer who wrote to us
    exists, whatever the metadata of `phonenumbers` says today."""
    number = to_e164(raw, default_region=default_region)
    parsed = phonenumbers.parse(number)
    if not phonenumbers.is_valid_number(parsed):
        region = phonenumbers.region_code_for_country_code(parsed.country_code)
        where = f" in {region}" if region and region != phonenumbers.UNKNOWN_REGION else ""
        raise InvalidPhoneNumberError(f"{raw!r} is not a valid phone number{where}.")
    return number


def phone_region(code: str | None) -> str | None:
    """A region code (ISO 3166 alpha-2, "US") that `phonenumbers` knows, upper-cased;
    None for none; InvalidPhoneNumberError for one it does not know."""
    code = (code or "").strip().upper()
    if not code:
        return None
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise InvalidPhoneNumberError(f"{code!r} is not a region code (ISO 3166, e.g. US).")
    return code
