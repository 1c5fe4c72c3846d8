"""The one application error type, and the stable codes the API promises.

Services raise `ApplicationError`; the API's exception handler renders it as
`{"code", "message", "details"}` with the status that belongs to its code. Apps above
this one add their codes to `ErrorCode` here, so the schema lists every code.
"""

from enum import StrEnum
from http import HTTPStatus
from typing import Any


class ErrorCode(StrEnum):
    VALIDATION_ERROR = "VALIDATION_ERROR"
    NOT_AUTHENTICATED = "NOT_AUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    NOT_FOUND = "NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    UNSUPPORTED_MEDIA_TYPE = "UNSUPPORTED_MEDIA_TYPE"
    NOT_ACCEPTABLE = "NOT_ACCEPTABLE"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    LENGTH_REQUIRED = "LENGTH_REQUIRED"
    RATE_LIMITED = "RATE_LIMITED"
    WINDOW_EXPIRED = "WINDOW_EXPIRED"
    TEMPLATE_NOT_APPROVED = "TEMPLATE_NOT_APPROVED"
    TEMPLATE_PARAMS_MISMATCH = "TEMPLATE_PARAMS_MISMATCH"
    IDEMPOTENCY_CONFLICT = "IDEMPOTENCY_CONFLICT"
    PROVIDER_ERROR = "PROVIDER_ERROR"
    CONTACT_OPTED_OUT = "CONTACT_OPTED_OUT"
    CONTACT_DO_NOT_CONTACT = "CONTACT_DO_NOT_CONTACT"
    INTERNAL_ERROR = "INTERNAL_ERROR"


STATUS_BY_CODE = {
    ErrorCode.VALIDATION_ERROR: HTTPStatus.BAD_REQUEST,
    ErrorCode.NOT_AUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    ErrorCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    ErrorCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    ErrorCode.METHOD_NOT_ALLOWED: HTTPStatus.METHOD_NOT_ALLOWED,
    ErrorCode.NOT_ACCEPTABLE: HTTPStatus.NOT_ACCEPTABLE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE: HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.PAYLOAD_TOO_LARGE: HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
    ErrorCode.LENGTH_REQUIRED: HTTPStatus.LENGTH_REQUIRED,
    ErrorCode.RATE_LIMITED: HTTPStatus.TOO_MANY_REQUESTS,
    ErrorCode.WINDOW_EXPIRED: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.TEMPLATE_NOT_APPROVED: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.TEMPLATE_PARAMS_MISMATCH: HTTPStatus.BAD_REQUEST,
    ErrorCode.IDEMPOTENCY_CONFLICT: HTTPStatus.CONFLICT,
    ErrorCode.PROVIDER_ERROR: HTTPStatus.BAD_GATEWAY,
    ErrorCode.CONTACT_OPTED_OUT: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.CONTACT_DO_NOT_CONTACT: HTTPStatus.UNPROCESSABLE_ENTITY,
    ErrorCode.INTERNAL_ERROR: HTTPStatus.INTERNAL_SERVER_ERROR,
}


class ApplicationError(Exception):
    def __init__(
        self, code: ErrorCode, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message
        self.details = details or {}

    @property
    def status(self) -> int:
        return STATUS_BY_CODE[self.code]

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code.value, "message": self.message, "details": self.details}


def field_error(field: str, message: str, code: str = "invalid") -> ApplicationError:
    """A validation error on one input field, shaped like DRF's field errors."""
    return ApplicationError(
        ErrorCode.VALIDATION_ERROR,
        f"{field}: {message}",
        {field: [{"message": message, "code": code}]},
    )


def from_django_validation_error(exc) -> ApplicationError:
    """Turn a model's `full_clean()` error into the API's field-level format."""
    by_field = (
        exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
    )
    details = {
        field: [{"message": message, "code": "invalid"} for message in messages]
        for field, messages in by_field.items()
    }
    summary = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in by_field.items())
    return ApplicationError(ErrorCode.VALIDATION_ERROR, summary, details)
