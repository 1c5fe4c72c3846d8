"""Signs a body the way Meta does (contract A1), for endpoint tests and benchmarks."""

import hashlib
import hmac


def sign(body: bytes, secret: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}"}
