"""Every answer under /api/ is in the house format, even the ones DRF never sees.

DRF's exception handler (tenants.api.errors) formats what goes wrong inside a view.
Before and after the view Django answers on its own, as HTML: no route matched (an id
with a dot, an unknown path), a request it refuses, an exception while rendering (a
string the JSON renderer cannot encode). This middleware turns any such error answer
into `{code, message, details}` with the same status.
"""

from http import HTTPStatus

from django.http import HttpRequest, HttpResponse, JsonResponse

from tenants.errors import STATUS_BY_CODE, ErrorCode

API_PREFIX = "/api/"
# The generic code for each status; an application's own codes come from its views.
_GENERIC_CODES = (
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.NOT_AUTHENTICATED,
    ErrorCode.PERMISSION_DENIED,
    ErrorCode.NOT_FOUND,
    ErrorCode.METHOD_NOT_ALLOWED,
    ErrorCode.NOT_ACCEPTABLE,
    ErrorCode.LENGTH_REQUIRED,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.RATE_LIMITED,
    ErrorCode.INTERNAL_ERROR,
)
CODE_BY_STATUS = {STATUS_BY_CODE[code]: code for code in _GENERIC_CODES}
_KEPT_HEADERS = ("Allow", "Retry-After", "WWW-Authenticate")


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith(API_PREFIX)
            and response.status_code >= HTTPStatus.BAD_REQUEST
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return house_error(response.status_code, kept_from=response)
        return response


def house_error(status: int, *, kept_from: HttpResponse | None = None) -> JsonResponse:
    code = CODE_BY_STATUS.get(status) or (
        ErrorCode.INTERNAL_ERROR if status >= 500 else ErrorCode.VALIDATION_ERROR
    )
    answer = JsonResponse(
        {"code": code.value, "message": f"{HTTPStatus(status).phrase}.", "details": {}},
        status=status,
    )
    for header in _KEPT_HEADERS if kept_from is not None else ():
        if header in kept_from:
            answer[header] = kept_from[header]
    return answer
