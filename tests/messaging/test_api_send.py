"""POST conversations/{id}/messages and POST messages, with Idempotency-Key."""

import json

import pytest

from conversations.models import Contact, Conversation, Message
from providers import Provider
from tests.factories import ConversationFactory
from tests.messaging.conftest import SEND_URL, WAMID, accepted
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db


def _url(conversation) -> str:
    return f"/api/v1/conversations/{conversation.pk}/messages"


def _post(client, url, body, **headers):
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def test_an_agent_sends_text_and_gets_the_queued_message(
    agent_client, conversation, graph, django_capture_on_commit_callbacks
):
    route = graph.post(SEND_URL).mock(return_value=accepted())

    with django_capture_on_commit_callbacks(execute=True):
        response = _post(agent_client, _url(conversation), {"text": "On its way"})

    assert response.status_code == 201
    assert (response.json()["status"], response.json()["direction"]) == ("queued", "outbound")
    assert route.call_count == 1
    assert Message.objects.get(pk=response.json()["id"]).provider_message_id == WAMID


def test_the_list_still_answers_on_the_same_route(viewer_client, conversation):
    response = viewer_client.get(_url(conversation))

    assert response.status_code == 200


def test_a_viewer_may_not_send(viewer_client, conversation):
    response = _post(viewer_client, _url(conversation), {"text": "Hi"})

    assert response.status_code == 403
    assert response.json()["code"] == "PERMISSION_DENIED"


def test_another_organizations_conversation_is_not_found(agent_client, other_organization):
    theirs = ConversationFactory(organization=other_organization)

    response = _post(agent_client, _url(theirs), {"text": "Hi"})

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "non_field_errors"),
        ({"text": "a", "template": {"name": "x", "language": "en"}}, "non_field_errors"),
        ({"template": {"name": "x"}}, "template"),
    ],
)
def test_bad_input_is_a_field_level_400(agent_client, conversation, body, field):
    response = _post(agent_client, _url(conversation), body)

    assert response.status_code == 400
    assert response.json()["code"] == "VALIDATION_ERROR"
    assert field in response.json()["details"]


def test_a_closed_window_is_422_window_expired(agent_client, closed_conversation):
    response = _post(agent_client, _url(closed_conversation), {"text": "Hello?"})

    assert response.status_code == 422
    assert response.json()["code"] == "WINDOW_EXPIRED"
    assert response.json()["details"]["closed_at"]


def test_the_same_key_and_body_send_once_and_answer_the_same(
    agent_client, conversation, graph, django_capture_on_commit_callbacks
):
    route = graph.post(SEND_URL).mock(return_value=accepted())
    body = {"text": "Exactly once"}

    with django_capture_on_commit_callbacks(execute=True):
        first = _post(agent_client, _url(conversation), body, **{"Idempotency-Key": "k-1"})
    with django_capture_on_commit_callbacks(execute=True):
        again = _post(agent_client, _url(conversation), body, **{"Idempotency-Key": "k-1"})

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Message.objects.filter(direction="outbound").count() == 1
    assert route.call_count == 1


def test_the_same_key_with_another_body_is_a_conflict(agent_client, conversation):
    _post(agent_client, _url(conversation), {"text": "First"}, **{"Idempotency-Key": "k-2"})

    response = _post(
        agent_client, _url(conversation), {"text": "Other"}, **{"Idempotency-Key": "k-2"}
    )

    assert response.status_code == 409
    assert response.json()["code"] == "IDEMPOTENCY_CONFLICT"
    assert Message.objects.filter(direction="outbound").count() == 1


def test_a_refused_request_keeps_nothing_under_its_key(agent_client, closed_conversation):
    key = {"Idempotency-Key": "k-3"}
    refused = _post(agent_client, _url(closed_conversation), {"text": "Hi"}, **key)
    Conversation.objects.filter(pk=closed_conversation.pk).update(window_expires_at=None)
    closed_conversation.channel.window_policy = "always_open"
    closed_conversation.channel.save()

    retried = _post(agent_client, _url(closed_conversation), {"text": "Hi"}, **key)

    assert (refused.status_code, retried.status_code) == (422, 201)


def test_a_send_to_a_number_finds_or_creates_the_contact_and_conversation(
    agent_client, organization, django_capture_on_commit_callbacks
):
    sms = make_channel(
        organization, Provider.OPENPHONE, access_token="op-key", phone_number_id="PN1"
    )
    body = {"channel": sms.pk, "to": "+1 (650) 555-0199", "text": "Your table is ready"}

    first = _post(agent_client, "/api/v1/messages", body)
    second = _post(agent_client, "/api/v1/messages", body)

    assert (first.status_code, second.status_code) == (201, 201)
    contact = Contact.objects.get(organization=organization, phone="+16505550199")
    assert Conversation.objects.filter(contact=contact, channel=sms).count() == 1
    assert Message.objects.filter(conversation__contact=contact).count() == 2


def test_a_send_to_a_number_names_a_channel_of_the_organization(agent_client, other_organization):
    theirs = make_channel(other_organization, Provider.OPENPHONE, phone_number_id="PN9")

    response = _post(
        agent_client, "/api/v1/messages", {"channel": theirs.pk, "to": "+16505550199", "text": "x"}
    )

    assert response.status_code == 400
    # Field errors have one shape everywhere: a list of {message, code}.
    assert response.json()["details"]["channel"] == [
        {"message": "Not one of this organization's channels.", "code": "invalid"}
    ]


def test_an_idempotency_key_too_long_is_a_field_error_of_the_same_shape(agent_client, conversation):
    response = _post(
        agent_client, _url(conversation), {"text": "Hi"}, **{"Idempotency-Key": "k" * 256}
    )

    assert response.status_code == 400
    assert response.json()["details"]["Idempotency-Key"] == [
        {"message": "1 to 255 characters.", "code": "invalid"}
    ]


def test_a_send_to_an_impossible_number_is_a_field_error(agent_client, organization):
    sms = make_channel(organization, Provider.OPENPHONE, phone_number_id="PN2")

    response = _post(agent_client, "/api/v1/messages", {"channel": sms.pk, "to": "12", "text": "x"})

    assert response.status_code == 400
    assert "to" in response.json()["details"]
