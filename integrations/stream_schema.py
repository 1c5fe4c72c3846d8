"""GET /api/v1/stream in the OpenAPI schema.

The stream is a plain async Django view served by the ASGI server, not a DRF view, so
drf-spectacular does not see it; this postprocessing hook (SPECTACULAR_SETTINGS) adds
the path by hand, so a frontend developer finds it beside the rest of the API, with
its frame format and the OutboxEvent component it carries.
"""

from integrations.stream import ROLE_BY_PREFIX
from integrations.stream_view import HEARTBEAT_SECONDS, RETRY_MILLISECONDS

_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}


def _description() -> str:
    roles = ", ".join(
        f"`{prefix}*` {role.label.lower()}" for prefix, role in ROLE_BY_PREFIX.items()
    )
    return (
        "Server-Sent Events (`text/event-stream`) of the caller's organization's events, "
        "live, as they are committed. Each event is one frame:\n\n"
        "    id: <position>\n    event: <type>\n    data: <OutboxEvent as JSON>\n\n"
        "where `data` is the envelope of the OutboxEvent component (its `id` is the "
        "position, a string). Reconnect with the `Last-Event-ID` header (browsers' "
        "EventSource does it by itself) or `?last_event_id=` to get what was missed "
        "first, from the outbox (kept `outbox_retention_days`), then the live feed. "
        f"A comment line (`: heartbeat`) after {HEARTBEAT_SECONDS:.0f} s without an event; "
        f"the first frame sets `retry: {RETRY_MILLISECONDS}`. "
        f"Which types a role sees, by the type's prefix (the least role): {roles}; "
        "any other type: admin. Served by the ASGI server (uvicorn): an open stream costs "
        "no worker."
    )


def add_stream_path(result, generator, request, public):
    result.setdefault("paths", {})["/api/v1/stream"] = {
        "get": {
            "operationId": "stream_events",
            "summary": "Live events (Server-Sent Events)",
            "description": _description(),
            "tags": ["stream"],
            "parameters": [
                {
                    "name": "Last-Event-ID",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "The `id` of the last event received: resume after it.",
                },
                {
                    "name": "last_event_id",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "The same, for clients that cannot set headers.",
                },
                {
                    "name": "X-Organization",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string"},
                    "description": "The organization's id or slug, for members of several.",
                },
            ],
            "responses": {
                "200": {
                    "description": "An endless event stream.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}},
                },
                "400": {
                    "description": "VALIDATION_ERROR: an unknown Last-Event-ID.",
                    "content": _ERROR,
                },
                "401": {"description": "NOT_AUTHENTICATED.", "content": _ERROR},
                "403": {
                    "description": "PERMISSION_DENIED: a member of no active organization.",
                    "content": _ERROR,
                },
                "404": {
                    "description": "NOT_FOUND: not a member of that organization.",
                    "content": _ERROR,
                },
            },
            "security": [{"tokenAuth": []}, {"cookieAuth": []}],
        }
    }
    return result
