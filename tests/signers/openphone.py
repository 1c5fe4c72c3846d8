"""Signs a body the way OpenPhone/Quo does (contract B3), for endpoint tests and benchmarks.

`sign` is the legacy `openphone-signature` scheme, written out from the contract so that
it checks our verifier rather than mirrors it; `sign_standard` is Standard Webhooks,
signed by svix as Quo's own tooling does.
"""

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from svix.webhooks import Webhook


def sign(body: bytes, secret: str, *, at: datetime | None = None) -> dict[str, str]:
    timestamp = str(round((at or datetime.now(UTC)).timestamp() * 1000))  # milliseconds
    key = base64.b64decode(secret)
    digest = hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).digest()
    return {"openphone-signature": f"hmac;1;{timestamp};{base64.b64encode(digest).decode()}"}


def sign_standard(
    body: bytes,
    secret: str,
    *,
    at: datetime | None = None,
    webhook_id: str = "msg_2vQdNqXaZ1bCw3EfGh4IjK5LmNo",
) -> dict[str, str]:
    at = (at or datetime.now(UTC)).astimezone(UTC)  # svix reads the clock time as UTC
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),  # seconds
        "webhook-signature": Webhook(secret).sign(webhook_id, at, body.decode()),
    }
