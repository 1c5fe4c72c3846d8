"""Standard Webhooks signatures (the `standardwebhooks` package does the HMAC).

Headers: `webhook-id` (stable per event and subscription: a receiver that saw it
already drops a redelivery), `webhook-timestamp` (the attempt's Unix time, which the
receiver checks within 5 minutes) and `webhook-signature`: one `v1,<base64>` per valid
secret, space-separated, so during a rotation a receiver holding either secret verifies.
"""

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


def secret_generate() -> str:
    """A new signing secret: `whsec_` and 24 random bytes in base64 (Svix's format)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def headers_sign(
    *, webhook_id: str, moment: datetime, payload: str, secrets_valid: list[str]
) -> dict[str, str]:
    signatures = " ".join(
        Webhook(secret).sign(msg_id=webhook_id, timestamp=moment, data=payload)
        for secret in secrets_valid
    )
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(moment.timestamp())),
        "webhook-signature": signatures,
    }
