"""Bad input anywhere in the API is a 4xx in `{code, message, details}`, never a 500.

Each case below answered 500 (or Django's HTML pages) before: the fix is one class of
input at one depth (pagination, URL patterns, the JSON parser, the error middleware).
"""

import base64
import json

import pytest
from django.db.models.functions import Coalesce
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory

from conversations.models import Message
from tenants.api.pagination import CursorPagination
from tests.factories import ChannelFactory, ConversationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

LISTS = [
    "/api/v1/channels/",
    "/api/v1/conversations/",
    "/api/v1/contacts/",
    "/api/v1/templates/",
    "/api/v1/reconciliation-runs/",
]


@pytest.fixture
def client(admin_client):
    admin_client.raise_request_exception = False  # see the 500 a user would get
    return admin_client


def _house_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    assert body["code"] == code
    return body


def _cursor(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize("url", [*LISTS, "conversation-messages"])
@pytest.mark.parametrize("cursor", ["p=notadate", "p=a\x00b", "o=x", "not base64 at all"])
def test_a_bogus_cursor_is_a_400_on_every_list(client, organization, url, cursor):
    if url == "conversation-messages":
        conversation = ConversationFactory(organization=organization)
        url = f"/api/v1/conversations/{conversation.pk}/messages/"
    encoded = cursor if " " in cursor else _cursor(cursor)

    response = client.get(url, {"cursor": encoded})

    body = _house_error(response, 400, "VALIDATION_ERROR")
    assert body["details"]["cursor"][0]["code"] == "invalid"


def test_a_real_cursor_still_pages(client, organization):
    for _ in range(3):
        ConversationFactory(organization=organization)

    first = client.get("/api/v1/conversations/", {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 2
    assert len(second["results"]) == 1


@pytest.mark.parametrize("object_id", ["²", "٣", "1.5", "1e3", "99999999999999999999"])
@pytest.mark.parametrize(
    "path", ["channels/{}/", "conversations/{}/", "contacts/{}/", "conversations/{}/messages/"]
)
def test_an_id_that_is_not_ascii_digits_is_a_404_in_house_format(client, path, object_id):
    response = client.get("/api/v1/" + path.format(object_id))

    _house_error(response, 404, "NOT_FOUND")


@pytest.mark.parametrize("hint", ["²", "٣٣", "99999999999999999999"])
def test_a_unicode_digit_organization_header_names_no_organization(client, hint):
    response = client.get("/api/v1/channels/", headers={"X-Organization": hint})

    _house_error(response, 404, "NOT_FOUND")


def test_the_organization_header_still_takes_an_id(organization):
    membership = MembershipFactory(organization=organization)
    MembershipFactory(user=membership.user)  # a second organization: the header decides
    client = APIClient()
    client.force_authenticate(membership.user)

    response = client.get("/api/v1/channels/", headers={"X-Organization": str(organization.pk)})

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/no-such-thing/", 404, "NOT_FOUND"),
        ("get", "/api/v1/channels/1.5/", 404, "NOT_FOUND"),
        ("delete", "/api/v1/channels/", 405, "METHOD_NOT_ALLOWED"),
    ],
)
def test_every_api_error_is_in_house_format(client, method, path, status, code):
    _house_error(getattr(client, method)(path), status, code)


def test_outside_the_api_django_pages_are_left_alone(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert not response["Content-Type"].startswith("application/json")


def test_a_body_over_the_limit_is_a_413(client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps({"provider": "twilio", "name": "x" * 2000})

    response = client.post("/api/v1/channels/", body, content_type="application/json")

    error = _house_error(response, 413, "PAYLOAD_TOO_LARGE")
    assert error["details"] == {"max_bytes": 1000}


@pytest.mark.parametrize(
    "raw",
    [
        '{"provider": "\\ud800", "name": "x"}',  # a lone surrogate in a choice field
        '{"provider": "twilio", "name": "\\udfff"}',
        '{"provider": "twilio", "name": "a\\u0000b"}',
        '{"provider": "twilio", "name": "x", "\\ud800": 1}',
    ],
)
def test_text_postgresql_cannot_hold_is_a_400(client, raw):
    response = client.post("/api/v1/channels/", raw, content_type="application/json")

    error = _house_error(response, 400, "VALIDATION_ERROR")
    assert "JSON" in error["message"]


def test_deeply_nested_json_is_a_400(client):
    response = client.post("/api/v1/channels/", "[" * 100_000, content_type="application/json")

    error = _house_error(response, 400, "VALIDATION_ERROR")
    assert "nested too deeply" in error["message"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00"])
@pytest.mark.parametrize("field", ["since", "until"])
def test_a_run_window_of_year_one_is_a_400(client, organization, field, moment):
    channel = ChannelFactory(organization=organization)

    response = client.post(
        "/api/v1/reconciliation-runs/", {"channel": channel.pk, field: moment}, format="json"
    )

    error = _house_error(response, 400, "VALIDATION_ERROR")
    assert error["details"][field][0]["code"] in {"out_of_range", "overflow"}


def test_a_year_one_filter_or_snooze_is_a_400(client, organization):
    conversation = ConversationFactory(organization=organization)

    listed = client.get("/api/v1/conversations/", {"updated_since": "0001-01-01T00:00:00Z"})
    snoozed = client.post(
        f"/api/v1/conversations/{conversation.pk}/status/",
        {"status": "snoozed", "until": "9999-12-31T23:59:59-01:00"},
        format="json",
    )

    assert _house_error(listed, 400, "VALIDATION_ERROR")["details"]["updated_since"]
    assert _house_error(snoozed, 400, "VALIDATION_ERROR")["details"]["until"]


def test_an_offset_python_takes_and_postgresql_does_not_is_just_a_moment(client, organization):
    conversation = ConversationFactory(organization=organization)
    # -22:43 is a valid ISO 8601 offset; PostgreSQL's limit is ±15:59.
    listed = client.get("/api/v1/conversations/", {"updated_since": "2035-07-10T13:15:35-22:43"})
    snoozed = client.post(
        f"/api/v1/conversations/{conversation.pk}/status/",
        {"status": "snoozed", "until": "2035-07-10T13:15:35+23:30"},
        format="json",
    )

    assert listed.status_code == 200
    assert snoozed.status_code == 200


def test_an_id_past_bigint_in_a_filter_or_body_is_a_400(client):
    too_big = 2**63

    listed = client.get("/api/v1/templates/", {"channel": too_big})
    run = client.post("/api/v1/reconciliation-runs/", {"channel": too_big}, format="json")

    assert _house_error(listed, 400, "VALIDATION_ERROR")["details"]["channel"]
    assert _house_error(run, 400, "VALIDATION_ERROR")["details"]["channel"]


def test_a_cursor_over_an_annotated_ordering_is_checked_by_its_type(organization):
    class ByWhen(CursorPagination):
        ordering = ("-when", "-id")

    messages = Message.objects.annotate(when=Coalesce("created_at", "created_at"))
    request = Request(APIRequestFactory().get("/", {"cursor": _cursor("p=notadate")}))

    with pytest.raises(ValidationError):
        ByWhen().paginate_queryset(messages, request)
