"""Signs a request the way Twilio does (contract C3), for endpoint tests and benchmarks."""

from twilio.request_validator import RequestValidator


def sign(url: str, params: dict[str, str], secret: str) -> dict[str, str]:
    """`url` exactly as Twilio calls it; `params` the form fields it posts ({} for GET)."""
    return {"X-Twilio-Signature": RequestValidator(secret).compute_signature(url, params)}
