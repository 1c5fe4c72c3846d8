import pytest
from openapi_spec_validator import validate

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(viewer_client):
    response = viewer_client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi_3(schema):
    assert schema["openapi"].startswith("3.")
    validate(schema)


def test_schema_documents_the_error_format_and_its_codes(schema):
    error = schema["components"]["schemas"]["Error"]
    assert error["required"] == ["code", "message", "details"]
    assert {"VALIDATION_ERROR", "NOT_FOUND", "WINDOW_EXPIRED", "RATE_LIMITED"} <= set(
        error["properties"]["code"]["enum"]
    )
    channel_detail = schema["paths"]["/api/v1/channels/{id}/"]["get"]["responses"]
    assert channel_detail["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "401" in schema["paths"]["/api/v1/me/"]["get"]["responses"]


def test_secrets_are_write_only_in_the_schema(schema):
    readable = schema["components"]["schemas"]["Channel"]["properties"]
    writable = schema["components"]["schemas"]["ChannelCreateRequest"]["properties"]
    assert "app_secret" not in readable
    assert "app_secret" in writable


def test_swagger_ui_is_served_to_a_signed_in_person(client):
    client.force_login(UserFactory())

    assert client.get("/api/v1/docs/").status_code == 200


def _responses(schema, path: str, method: str) -> set[str]:
    return set(schema["paths"][path][method]["responses"])


# The API reads JSON, but for a file.
BODIES = {"/api/v1/do-not-contact/import/": {"multipart/form-data", "text/csv"}}


def test_every_operation_documents_the_errors_it_can_answer(schema):
    send = {"400", "401", "403", "404", "409", "413", "415", "422", "429"}
    assert send <= _responses(schema, "/api/v1/conversations/{conversation_id}/messages/", "post")
    assert send <= _responses(schema, "/api/v1/messages/", "post")
    meta = {"429", "502"}
    assert meta <= _responses(schema, "/api/v1/templates/", "post")
    assert meta <= _responses(schema, "/api/v1/templates/{id}/", "delete")
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert "401" in documented, (method, path)
            if "requestBody" in operation:  # every body is read, so may be too big or not JSON
                assert {"400", "413", "415"} <= documented, (method, path)
                assert set(operation["requestBody"]["content"]) == BODIES.get(
                    path, {"application/json"}
                ), path


def test_each_documented_error_names_its_codes(schema):
    responses = schema["paths"]["/api/v1/messages/"]["post"]["responses"]

    assert "WINDOW_EXPIRED" in responses["422"]["description"]
    assert "IDEMPOTENCY_CONFLICT" in responses["409"]["description"]
    assert responses["413"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }


def test_the_stream_is_in_the_schema_with_its_frame_format(schema):
    """The stream is a plain async view, added by a postprocessing hook: a frontend
    developer finds it, its resume header and the envelope it carries."""
    stream = schema["paths"]["/api/v1/stream"]["get"]
    assert set(stream["responses"]["200"]["content"]) == {"text/event-stream"}
    assert {p["name"] for p in stream["parameters"]} >= {"Last-Event-ID", "X-Organization"}
    assert "OutboxEvent" in stream["description"]
    assert "OutboxEvent" in schema["components"]["schemas"]
    assert "`message.*` viewer" in stream["description"]
