"""drf-spectacular hook: document the error format and the X-Organization header once,
for every operation, instead of repeating them on each view."""

from tenants.errors import ErrorCode

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

_ERROR_RESPONSES = {
    "400": "Invalid input (VALIDATION_ERROR, with field-level details).",
    "401": "Not authenticated (NOT_AUTHENTICATED).",
    "403": "The caller's role does not allow this (PERMISSION_DENIED).",
    "404": "No such object in the caller's organization (NOT_FOUND).",
}
_UNSCOPED_PATHS = {"/api/v1/me"}

ORGANIZATION_HEADER = {
    "in": "header",
    "name": "X-Organization",
    "required": False,
    "schema": {"type": "string"},
    "description": "Slug or id of the organization to act in; needed only by users who "
    "belong to several.",
}


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    for path, operations in result.get("paths", {}).items():
        scoped = path.rstrip("/") not in _UNSCOPED_PATHS
        # Scoped operations can all fail on organization resolution: 400 (which one?),
        # 403 (role) and 404 (not yours), besides their own validation.
        statuses = list(_ERROR_RESPONSES) if scoped else ["401"]
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status in statuses:
                responses.setdefault(status, _error_response(_ERROR_RESPONSES[status]))
            if scoped:
                operation.setdefault("parameters", []).append(ORGANIZATION_HEADER)
    return result


def _error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
