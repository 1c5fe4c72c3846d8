"""The OpenAPI components of the outbox: one per event body (outbox.types), and the
envelope every event is delivered in. Added by a postprocessing hook
(SPECTACULAR_SETTINGS) so receivers find the bodies in /api/v1/schema/ before any
endpoint serves them."""

from outbox.types import EVENT_TYPES, body_schema

ENVELOPE = {
    "type": "object",
    "description": "An event of the outbox. `id` is its position in the stream (read "
    "after the last id seen); `body` is the type's body at `version` "
    "(components named after the type and version, e.g. MessageReceivedV1).",
    "properties": {
        "id": {"type": "integer", "format": "int64"},
        "type": {"type": "string", "enum": sorted(EVENT_TYPES)},
        "version": {"type": "integer"},
        "organization_id": {"type": "integer"},
        "channel_id": {"type": "integer", "nullable": True},
        "conversation_id": {"type": "integer", "nullable": True},
        "occurred_at": {"type": "string", "format": "date-time"},
        "body": {"oneOf": []},
    },
    "required": ["id", "type", "version", "organization_id", "occurred_at", "body"],
}


def add_event_components(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    refs = []
    for event_type in EVENT_TYPES.values():
        schemas[event_type.component] = body_schema(event_type)
        refs.append({"$ref": f"#/components/schemas/{event_type.component}"})
    envelope = {**ENVELOPE, "properties": {**ENVELOPE["properties"], "body": {"oneOf": refs}}}
    schemas["OutboxEvent"] = envelope
    return result
