"""The API's one exception handler: every error is `{code, message, details}`."""

import logging
import math

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from tenants.errors import ApplicationError, ErrorCode

logger = logging.getLogger(__name__)

_CODE_BY_DRF_EXCEPTION = (
    (exceptions.ValidationError, ErrorCode.VALIDATION_ERROR),
    (exceptions.ParseError, ErrorCode.VALIDATION_ERROR),
    (exceptions.NotAuthenticated, ErrorCode.NOT_AUTHENTICATED),
    (exceptions.AuthenticationFailed, ErrorCode.NOT_AUTHENTICATED),
    (exceptions.PermissionDenied, ErrorCode.PERMISSION_DENIED),
    (exceptions.NotFound, ErrorCode.NOT_FOUND),
    (exceptions.MethodNotAllowed, ErrorCode.METHOD_NOT_ALLOWED),
    (exceptions.NotAcceptable, ErrorCode.NOT_ACCEPTABLE),
    (exceptions.UnsupportedMediaType, ErrorCode.UNSUPPORTED_MEDIA_TYPE),
    (exceptions.Throttled, ErrorCode.RATE_LIMITED),
)


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):  # raised by Django when DRF reads the body
        exc = ApplicationError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"The body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
            {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
        )
    if isinstance(exc, ApplicationError):
        set_rollback()
        response = Response(exc.as_dict(), status=exc.status)
        if "retry_after" in exc.details:  # RATE_LIMITED: also as the standard header
            response["Retry-After"] = str(math.ceil(exc.details["retry_after"]))
        return response

    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    # DRF's handler sets the status, rolls back and adds WWW-Authenticate/Retry-After.
    response = drf_exception_handler(exc, context)
    if response is None:
        logger.exception("Unhandled error in %s", context.get("view"), exc_info=exc)
        set_rollback()
        return Response(
            {"code": ErrorCode.INTERNAL_ERROR.value, "message": "Internal error.", "details": {}},
            status=500,
        )
    response.data = _as_error(exc)
    return response


def _as_error(exc: exceptions.APIException) -> dict:
    code = next(
        (code for kind, code in _CODE_BY_DRF_EXCEPTION if isinstance(exc, kind)),
        ErrorCode.INTERNAL_ERROR,
    )
    if isinstance(exc, exceptions.ValidationError):
        return {"code": code.value, "message": "Invalid input.", "details": _field_details(exc)}
    details = {"retry_after": exc.wait} if isinstance(exc, exceptions.Throttled) else {}
    return {"code": code.value, "message": str(exc.detail), "details": details}


def _field_details(exc: exceptions.ValidationError) -> dict:
    full = exc.get_full_details()
    return full if isinstance(full, dict) else {"non_field_errors": full}
