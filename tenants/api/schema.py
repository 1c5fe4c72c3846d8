"""The API's OpenAPI schema: every operation documents the errors it can answer.

`AutoSchema` adds, to each operation, the error statuses that any operation of its kind
can answer (401 always; 400/403/404 where an organization is resolved; 400/413/415
where a JSON body is read) and the ones its view declares in `error_codes`, keyed by
action (viewsets) or method (plain views):

    error_codes = {"create": (ErrorCode.PROVIDER_ERROR, ErrorCode.RATE_LIMITED)}

The postprocessing hook adds the shared Error component and the X-Organization header.
"""

from collections import defaultdict

from drf_spectacular import openapi

from tenants.api.base import OrganizationScopedMixin
from tenants.errors import STATUS_BY_CODE, ErrorCode

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every API error. `code` is stable; `message` is for people; "
    "`details` carries field errors (`{field: [{message, code}]}`) or context such as "
    "`retry_after`.",
    "properties": {
        "code": {"type": "string", "enum": [code.value for code in ErrorCode]},
        "message": {"type": "string"},
        "details": {"type": "object", "additionalProperties": True},
    },
    "required": ["code", "message", "details"],
    "example": {
        "code": "VALIDATION_ERROR",
        "message": "Invalid input.",
        "details": {"name": [{"message": "This field is required.", "code": "required"}]},
    },
}

# What each status means, whichever operation answers it.
_MEANINGS = {
    400: "Invalid input (field-level details).",
    401: "Not authenticated.",
    403: "The caller's role does not allow this.",
    404: "No such object in the caller's organization.",
    409: "The Idempotency-Key was used for another request.",
    413: "The body is larger than the limit (details.max_bytes).",
    415: "The body is not JSON.",
    422: "Refused by a messaging rule.",
    429: "Rate limited: try again after details.retry_after seconds (also Retry-After).",
    502: "The provider refused or failed the call (details.provider_code).",
}
_ALWAYS = (ErrorCode.NOT_AUTHENTICATED,)
_SCOPED = (ErrorCode.VALIDATION_ERROR, ErrorCode.PERMISSION_DENIED, ErrorCode.NOT_FOUND)
_WITH_BODY = (
    ErrorCode.VALIDATION_ERROR,
    ErrorCode.PAYLOAD_TOO_LARGE,
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
)

ORGANIZATION_HEADER = {
    "in": "header",
    "name": "X-Organization",
    "required": False,
    "schema": {"type": "string"},
    "description": "Slug or id of the organization to act in; needed only by users who "
    "belong to several.",
}


class AutoSchema(openapi.AutoSchema):
    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation.setdefault("responses", {})
        for status, codes in sorted(self._error_codes(operation).items()):
            responses.setdefault(str(status), _error_response(status, codes))
        if isinstance(self.view, OrganizationScopedMixin):
            operation.setdefault("parameters", []).append(ORGANIZATION_HEADER)
        return operation

    def _error_codes(self, operation: dict) -> dict[int, list[ErrorCode]]:
        codes = list(_ALWAYS)
        if isinstance(self.view, OrganizationScopedMixin):
            codes += _SCOPED
        if "requestBody" in operation:
            codes += _WITH_BODY
        declared = getattr(self.view, "error_codes", {})
        codes += declared.get(getattr(self.view, "action", None) or self.method.lower(), ())
        by_status: dict[int, list[ErrorCode]] = defaultdict(list)
        for code in dict.fromkeys(codes):  # once each, in order
            by_status[int(STATUS_BY_CODE[code])].append(code)
        return by_status


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    return result


def _error_response(status: int, codes: list[ErrorCode]) -> dict:
    meaning = _MEANINGS.get(status, "")
    return {
        "description": f"{meaning} Codes: {', '.join(codes)}.".strip(),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
