"""Request bodies sent with `Transfer-Encoding: chunked`, for Django's WSGI handler.

Django reads CONTENT_LENGTH bytes of a body, so a chunked request (no Content-Length)
looked empty: a webhook authenticated by a header alone (Unipile) was acknowledged
and stored with no body. This wraps the WSGI application:
- when the server has already decoded the chunks and marks the input as ending with
  the body (`wsgi.input_terminated`, as gunicorn does), the body is read here, up to
  DATA_UPLOAD_MAX_MEMORY_SIZE, and handed on with its length: every view, the webhooks'
  signature checks included, sees all of it;
- when it has not (Django's runserver), the body cannot be read: 411 Length Required,
  never a 200 over nothing; a body over the limit is a 413.
"""

import io
import json
from http import HTTPStatus

from django.conf import settings

READ_SIZE = 64 * 1024


class ChunkedBodyMiddleware:
    def __init__(self, application) -> None:
        self.application = application

    def __call__(self, environ, start_response):
        if _chunked_without_length(environ):
            refusal = _read_body(environ)
            if refusal is not None:
                return _refuse(environ, start_response, refusal)
        return self.application(environ, start_response)


def _chunked_without_length(environ) -> bool:
    encoding = environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return "chunked" in encoding and not environ.get("CONTENT_LENGTH")


def _read_body(environ) -> HTTPStatus | None:
    """Replace the input with the whole body and its length; or why it cannot be."""
    if not environ.get("wsgi.input_terminated"):
        return HTTPStatus.LENGTH_REQUIRED
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    stream, body = environ["wsgi.input"], bytearray()
    while chunk := stream.read(min(READ_SIZE, limit + 1 - len(body))):
        body += chunk
        if len(body) > limit:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    environ["wsgi.input"] = io.BytesIO(bytes(body))
    environ["CONTENT_LENGTH"] = str(len(body))
    return None


_MESSAGES = {
    HTTPStatus.LENGTH_REQUIRED: "Send a Content-Length: this server cannot read chunked bodies.",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "The body is larger than the limit.",
}
_CODES = {
    HTTPStatus.LENGTH_REQUIRED: "LENGTH_REQUIRED",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "PAYLOAD_TOO_LARGE",
}


def _refuse(environ, start_response, status: HTTPStatus):
    message = _MESSAGES[status]
    if environ.get("PATH_INFO", "").startswith("/api/"):
        answer = {"code": _CODES[status], "message": message, "details": {}}
    else:  # the webhooks' own error shape
        answer = {"error": message}
    body = json.dumps(answer).encode()
    # No Content-Length: servers then close the connection (runserver does), so the
    # unread chunks are never taken for the next request. WSGI may not set Connection.
    start_response(f"{status.value} {status.phrase}", [("Content-Type", "application/json")])
    return [body]
