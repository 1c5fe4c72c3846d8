import json

import httpx
import pytest

from providers.events import MessageStatus
from providers.http import ProviderError
from providers.openphone_client import OpenPhoneClient

API_KEY = "op-test-key"
SEND_URL = "https://api.openphone.com/v1/messages"
ACCEPTED = {
    "data": {
        "id": "AC24a8b8321c4f4cf2be110f4250793d51",
        "to": ["+15555555555"],
        "from": "+15555550000",
        "text": "Hello",
        "phoneNumberId": "PN123abc",
        "direction": "outgoing",
        "status": "queued",
        "createdAt": "2026-04-13T12:00:00Z",
    }
}


@pytest.fixture
def client():
    with OpenPhoneClient(API_KEY, "PN123abc") as openphone:
        yield openphone


def test_send_text_posts_content_from_and_to_with_the_raw_key(client, respx_mock):
    # given OpenPhone accepts the message
    route = respx_mock.post(SEND_URL).respond(202, json=ACCEPTED)

    # when a text is sent
    client.send_text(to="+15555555555", text="Hello")

    # then the key is the whole Authorization header (no "Bearer") and the body is B5's
    request = route.calls.last.request
    assert request.headers["Authorization"] == API_KEY
    assert json.loads(request.content) == {
        "content": "Hello",
        "from": "PN123abc",
        "to": ["+15555555555"],
    }


def test_a_202_gives_the_message_id_as_queued(client, respx_mock):
    respx_mock.post(SEND_URL).respond(202, json=ACCEPTED)

    sent = client.send_text(to="+15555555555", text="Hello")

    assert sent.message_id == "AC24a8b8321c4f4cf2be110f4250793d51"
    assert sent.status == MessageStatus.QUEUED
    assert sent.raw == ACCEPTED


def test_a_message_already_sent_is_sent(client, respx_mock):
    answer = {"data": {**ACCEPTED["data"], "status": "sent"}}
    respx_mock.post(SEND_URL).respond(202, json=answer)

    assert client.send_text(to="+15555555555", text="Hello").status == MessageStatus.SENT


def test_an_accepted_answer_without_an_id_is_a_permanent_error(client, respx_mock):
    respx_mock.post(SEND_URL).respond(202, json={"data": {}})

    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+15555555555", text="Hello")

    assert (raised.value.code, raised.value.transient) == ("unexpected_response", False)


def test_a_refused_message_is_a_permanent_error_with_openphones_words(client, respx_mock):
    error = {"message": "Content must be 1-1600 characters", "code": "0200400", "status": 400}
    respx_mock.post(SEND_URL).respond(400, json=error)

    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+15555555555", text="x" * 1601)

    assert raised.value.code == "0200400"
    assert raised.value.title == "Content must be 1-1600 characters"
    assert raised.value.transient is False
    assert raised.value.raw == error


def test_the_rate_limit_is_transient_and_says_when_to_retry(client, respx_mock):
    # given more than 10 requests a second: OpenPhone answers 429 with Retry-After
    respx_mock.post(SEND_URL).respond(429, headers={"Retry-After": "2"}, json={})

    # when a text is sent
    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+15555555555", text="Hello")

    # then it is worth retrying, after the time OpenPhone asked for
    assert raised.value.code == "429"
    assert raised.value.transient is True
    assert raised.value.retry_after == 2.0


def test_an_unreachable_api_is_transient(client, respx_mock):
    respx_mock.post(SEND_URL).mock(side_effect=httpx.ConnectError("connection refused"))

    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+15555555555", text="Hello")

    assert (raised.value.code, raised.value.transient) == ("connection_error", True)


def test_a_gateway_error_page_is_transient_and_kept(client, respx_mock):
    respx_mock.post(SEND_URL).respond(502, text="<html>Bad Gateway</html>")

    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+15555555555", text="Hello")

    assert raised.value.transient is True
    assert raised.value.raw == {"text": "<html>Bad Gateway</html>"}


def test_the_base_url_can_point_at_a_fake_server(respx_mock):
    route = respx_mock.post("http://localhost:9000/v1/messages").respond(202, json=ACCEPTED)

    with OpenPhoneClient(API_KEY, "+15555550000", base_url="http://localhost:9000") as client:
        client.send_text(to="+15555555555", text="Hello")

    assert json.loads(route.calls.last.request.content)["from"] == "+15555550000"
