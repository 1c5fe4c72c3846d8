from email.parser import BytesParser
from email.policy import HTTP

import pytest

from providers.events import MessageStatus
from providers.http import ProviderError
from providers.unipile_client import UnipileClient, dsn_url
from tests.providers.test_unipile_relations import JULIEN, fixture

API_KEY = "unipile-test-key"
ACCOUNT_ID = "dfXlh46vQYCsMbVarumWlg"
DSN = "https://api1.unipile.com:13111"
CHAT_ID = "R8J-xM9WX7eoHLp6gSVtWQ"
SEND_URL = f"{DSN}/api/v1/chats/{CHAT_ID}/messages"
SENT = {"object": "MessageSent", "message_id": "ykmhfXlRW0W_cqReJYrfBw"}


@pytest.fixture
def client():
    with UnipileClient(API_KEY, ACCOUNT_ID, base_url=DSN) as unipile:
        yield unipile


def _fields(route) -> dict[str, str]:
    """The multipart form fields of the last request, read as a mail parser reads MIME."""
    request = route.calls.last.request
    head = f"Content-Type: {request.headers['Content-Type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    return {
        part.get_param("name", header="content-disposition"): part.get_content()
        for part in message.iter_parts()
    }


def test_send_text_posts_a_multipart_form_to_the_chat_with_the_api_key(client, respx_mock):
    # given Unipile sends the message
    route = respx_mock.post(SEND_URL).respond(201, json=SENT)

    # when a text is sent into the chat
    client.send_text(to=CHAT_ID, text="Hello World !")

    # then it is a multipart form naming the account, authenticated by X-API-KEY
    request = route.calls.last.request
    assert request.headers["X-API-KEY"] == API_KEY
    assert request.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert _fields(route) == {"text": "Hello World !", "account_id": ACCOUNT_ID}


def test_a_reply_quotes_the_message(client, respx_mock):
    route = respx_mock.post(SEND_URL).respond(201, json=SENT)

    client.send_text(to=CHAT_ID, text="Sure", reply_to="msg_earlier")

    assert _fields(route)["quote_id"] == "msg_earlier"


def test_a_201_gives_the_message_id_as_sent(client, respx_mock):
    # Unipile has no later "sent" webhook: MessageSent is the message having left.
    respx_mock.post(SEND_URL).respond(201, json=SENT)

    sent = client.send_text(to=CHAT_ID, text="Hi")

    assert (sent.message_id, sent.status, sent.raw) == (
        "ykmhfXlRW0W_cqReJYrfBw",
        MessageStatus.SENT,
        SENT,
    )


def test_a_chat_id_cannot_reach_another_endpoint(client, respx_mock):
    route = respx_mock.post(f"{DSN}/api/v1/chats/..%2Faccounts/messages").respond(201, json=SENT)

    client.send_text(to="../accounts", text="Hi")

    assert route.called


@pytest.mark.parametrize("chat_id", ["", "..", "  "])
def test_a_missing_or_dot_chat_id_fails_without_calling_unipile(client, respx_mock, chat_id):
    with pytest.raises(ProviderError) as raised:
        client.send_text(to=chat_id, text="Hi")

    assert raised.value.code == "invalid_recipient"


def test_a_disconnected_account_is_a_permanent_error_named_by_its_type(client, respx_mock):
    problem = {
        "title": "Unauthorized",
        "detail": "The account is disconnected.",
        "type": "errors/disconnected_account",
        "status": 401,
    }
    respx_mock.post(SEND_URL).respond(401, json=problem)

    with pytest.raises(ProviderError) as raised:
        client.send_text(to=CHAT_ID, text="Hi")

    assert raised.value.code == "errors/disconnected_account"
    assert raised.value.title == "The account is disconnected."
    assert raised.value.transient is False


def test_an_unavailable_service_is_transient(client, respx_mock):
    respx_mock.post(SEND_URL).respond(503, json={"title": "Service Unavailable", "status": 503})

    with pytest.raises(ProviderError) as raised:
        client.send_text(to=CHAT_ID, text="Hi")

    assert raised.value.transient is True
    assert raised.value.title == "Service Unavailable"


def test_start_chat_opens_a_chat_with_the_person_and_gives_both_ids(client, respx_mock):
    # given Unipile starts the chat (its recorded answer)
    route = respx_mock.post(f"{DSN}/api/v1/chats").respond(201, json=fixture("chat_started"))

    # when the first message goes to a person the account has no chat with
    started = client.start_chat(attendee_provider_id=JULIEN, text="Thanks for connecting!")

    # then it is a multipart form naming the account and the person by provider id
    assert _fields(route) == {
        "account_id": ACCOUNT_ID,
        "attendees_ids": JULIEN,
        "text": "Thanks for connecting!",
    }
    # and the answer gives the new chat and the message, which has left
    assert started.chat_id == "Dm1yQbyuWU-kK_qTEVv0xw"
    assert (started.sent.message_id, started.sent.status) == (
        "7pJWqHbkXr2Pd9Ujh0yZfA",
        MessageStatus.SENT,
    )


def test_start_chat_without_a_chat_id_in_the_answer_is_not_retried(client, respx_mock):
    respx_mock.post(f"{DSN}/api/v1/chats").respond(201, json={"object": "ChatStarted"})

    with pytest.raises(ProviderError) as raised:
        client.start_chat(attendee_provider_id=JULIEN, text="Hi")

    # The message may have left: a retry could send it twice.
    assert (raised.value.code, raised.value.transient) == ("unexpected_response", False)


def test_start_chat_needs_a_provider_id_and_the_account(respx_mock):
    route = respx_mock.post(f"{DSN}/api/v1/chats")
    with (
        UnipileClient(API_KEY, ACCOUNT_ID, base_url=DSN) as unipile,
        pytest.raises(ProviderError, match="invalid_recipient"),
    ):
        unipile.start_chat(attendee_provider_id=" ", text="Hi")
    with (
        UnipileClient(API_KEY, "", base_url=DSN) as unipile,
        pytest.raises(ProviderError, match="no_account_id"),
    ):
        unipile.start_chat(attendee_provider_id=JULIEN, text="Hi")
    assert not route.called


@pytest.mark.parametrize(
    "dsn",
    [
        "api1.unipile.com:13111",
        "https://api1.unipile.com:13111/",
        "https://api1.unipile.com:13111/api/v1",
    ],
)
def test_the_dsn_is_read_as_unipile_shows_it_or_as_a_url(dsn):
    assert dsn_url(dsn) == DSN


def test_a_dsn_is_required():
    with pytest.raises(ValueError, match="DSN"):
        UnipileClient(API_KEY, ACCOUNT_ID, base_url="")
