"""The small surface every provider module offers, and the types it speaks.

A provider module (`providers/<name>.py`) exposes:

- `verify(request: SignedRequest, secret: str) -> Verification`: is this request really
  from the provider? Works on the raw bytes, compares in constant time, rejects stale
  timestamps where the scheme has one (`MAX_SIGNATURE_AGE`).
- `parse(request: SignedRequest) -> list[Event]`: every normalized event in the body,
  in payload order. Raises `PayloadError` for a body it cannot read at all; an event
  type it does not know becomes `Unsupported`, never an exception.
- `STORED_HEADERS`: the (lower-case) request headers worth storing with the event.

WhatsApp adds `handshake(params)` (the GET subscription check) and
`routing_keys(body)` (phone_number_id/WABA ids, to find the channel before parsing).

No Django here: the webhooks app adapts an HttpRequest into a `SignedRequest`.
"""

import hmac
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from providers.text import storable

# Replays older than this are refused by schemes that sign a timestamp.
MAX_SIGNATURE_AGE = timedelta(minutes=5)


# \u0000 and surrogate escapes (a real pair is fine, but rare enough to check too).
_UNSTORABLE_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


class PayloadError(ValueError):
    """The body is not what the provider sends (not JSON, not the expected shape)."""


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    # Header names lower-cased.
    headers: dict[str, str] = field(default_factory=dict)
    # The full URL the provider called (scheme, host, path, query) — Twilio signs it.
    url: str = ""
    # Form fields for form-encoded bodies (Twilio), every value of every name.
    form: dict[str, list[str]] = field(default_factory=dict)
    received_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Not received: who the channel itself is at the provider (Unipile: the connected
    # account's user id), for payloads that do not always say which party is us.
    own_ids: tuple[str, ...] = ()

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")


@dataclass(frozen=True)
class Verification:
    ok: bool
    reason: str = ""  # why it failed: "missing signature", "bad signature", "stale"...

    def __bool__(self) -> bool:
        return self.ok


VERIFIED = Verification(ok=True)


def refused(reason: str) -> Verification:
    return Verification(ok=False, reason=reason)


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


def json_object(body: bytes, *, provider: str) -> dict[str, Any]:
    """The body as a JSON object, or PayloadError saying what it is instead."""
    try:
        payload = json.loads(body)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError alike
        raise PayloadError(f"{provider} body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise PayloadError(f"{provider} body is not a JSON object.")
    # Valid JSON may still hold text PostgreSQL cannot store (providers.text): file the
    # message without it. Only escapes can write such text, so most bodies skip the walk.
    return storable(payload) if _UNSTORABLE_ESCAPE.search(body) else payload


def from_unix(seconds: str | int | float) -> datetime:
    """Provider unix timestamps (Meta sends strings in messages, ints in entries)."""
    try:
        return datetime.fromtimestamp(int(float(seconds)), tz=UTC)
    except (TypeError, ValueError, OverflowError) as exc:
        raise PayloadError(f"Not a unix timestamp: {seconds!r}") from exc


def from_iso(value: str) -> datetime:
    """ISO 8601 with "Z" or an offset, returned in UTC."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError) as exc:
        raise PayloadError(f"Not an ISO 8601 timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
