from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from providers import Provider, unipile
from providers.base import SignedRequest
from providers.events import (
    ContactRef,
    InboundMessage,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
    Unsupported,
)
from providers.http import ProviderError
from providers.listing import Page
from providers.unipile_client import UnipileClient

FIXTURES = Path(__file__).parent.parent / "fixtures" / "unipile"
API_KEY = "unipile-test-key"
ACCOUNT_ID = "dfXlh46vQYCsMbVarumWlg"
DSN = "https://api1.unipile.com:13111"
MESSAGES_URL = f"{DSN}/api/v1/messages"
SELF = "ACoAABxyzSelf0000000000000000000000000"
KIM = ContactRef(provider_id="ACoAAAcDMMQBODyLwZrRcgYhrkCafURGqva0U4E", name="Kim Unipile")
CHAT_ID = "R8J-xM9WX7eoHLp6gSVtWQ"
SINCE = datetime(2023, 9, 24, 0, 0, tzinfo=UTC)


def _message(**fields) -> dict:
    """A Message object as `GET /api/v1/messages` lists it."""
    return {
        "object": "Message",
        "id": "ykmhfXlRW0W_cqReJYrfBw",
        "account_id": ACCOUNT_ID,
        "chat_id": CHAT_ID,
        "chat_provider_id": "2-ZDEzNmM1ZjUtYzQ2Ny00",
        "provider_id": "2-MTY5NTU2MzM0Nzk2NWI0",
        "sender_id": KIM.provider_id,
        "sender_attendee_id": "C8zaRZTlVcmfnke_Vai4Gg",
        "text": "Hello World !",
        "timestamp": "2023-09-24T13:49:07.965Z",
        "is_sender": 0,
        "seen": 0,
        "seen_by": {},
        "hidden": 0,
        "deleted": 0,
        "edited": 0,
        "is_event": 0,
        "delivered": 1,
        "behavior": None,
        "subject": None,
        "attachments": [],
        "quoted": None,
        "reactions": [],
        **fields,
    }


# The messages of the webhook fixtures message_received.json and message_received_own.json
# (read since: message_read.json), as the list gives them.
RECEIVED = _message()
OWN_READ = _message(
    id="Qm2xT8vKQ4C3p1Zs0fYw9A",
    sender_id=SELF,
    sender_attendee_id="12Siz1Vcmfnke_Vai4Gg",
    text="Thanks Kim, I'll send the deck tomorrow.",
    timestamp="2023-09-24T14:02:41.120Z",
    is_sender=1,
    seen=1,
    seen_by={KIM.provider_id: True},
)


@pytest.fixture
def client():
    with UnipileClient(API_KEY, ACCOUNT_ID, base_url=DSN) as unipile_client:
        yield unipile_client


def _page(items: list[dict], cursor: str | None) -> dict:
    return {"object": "MessageList", "items": items, "cursor": cursor}


def _params(route, call: int = -1) -> dict[str, str]:
    return dict(route.calls[call].request.url.params.multi_items())


def _webhook(name: str):
    (event,) = unipile.parse(SignedRequest(body=(FIXTURES / f"{name}.json").read_bytes()))
    return event


# --- messages_page ------------------------------------------------------------------


def test_the_first_page_asks_for_the_accounts_messages_since(client, respx_mock):
    # given Unipile has one page of messages
    route = respx_mock.get(MESSAGES_URL).respond(200, json=_page([RECEIVED], None))

    # when the first page is asked for
    page = client.messages_page(since=SINCE)

    # then only this account's messages are asked for, after the time in Unipile's format
    assert _params(route) == {
        "account_id": ACCOUNT_ID,
        "after": "2023-09-24T00:00:00.000Z",
        "limit": "100",
    }
    assert route.calls.last.request.headers["X-API-KEY"] == API_KEY
    assert page == Page(items=[RECEIVED], next=None)


def test_a_follow_up_page_passes_the_cursor_back(client, respx_mock):
    route = respx_mock.get(MESSAGES_URL).respond(200, json=_page([], None))

    client.messages_page(since=SINCE, cursor="Y3Vyc29yLTI=", limit=250)

    assert _params(route) == {
        "account_id": ACCOUNT_ID,
        "after": "2023-09-24T00:00:00.000Z",
        "limit": "250",
        "cursor": "Y3Vyc29yLTI=",
    }


def test_paging_follows_the_cursor_to_the_end(client, respx_mock):
    route = respx_mock.get(MESSAGES_URL).mock(
        side_effect=[
            httpx.Response(200, json=_page([RECEIVED], "Y3Vyc29yLTI=")),
            httpx.Response(200, json=_page([OWN_READ], None)),
        ]
    )

    ids, cursor = [], ""
    while True:
        page = client.messages_page(since=SINCE, cursor=cursor)
        ids += [item["id"] for item in page.items]
        if page.next is None:
            break
        cursor = page.next

    assert ids == [RECEIVED["id"], OWN_READ["id"]]
    assert "cursor" not in _params(route, 0)
    assert _params(route, 1)["cursor"] == "Y3Vyc29yLTI="


def test_the_rate_limit_is_transient_and_says_when_to_retry(client, respx_mock):
    error = {"status": 429, "type": "errors/too_many_requests", "title": "Too many requests"}
    respx_mock.get(MESSAGES_URL).respond(429, headers={"Retry-After": "30"}, json=error)

    with pytest.raises(ProviderError) as raised:
        client.messages_page(since=SINCE)

    assert raised.value.code == "errors/too_many_requests"
    assert raised.value.transient is True
    assert raised.value.retry_after == 30.0


def test_without_an_account_id_nothing_is_listed(respx_mock):
    # given a client with no account: Unipile would list every account of the key
    route = respx_mock.get(MESSAGES_URL).respond(200, json=_page([], None))

    with (
        UnipileClient(API_KEY, "", base_url=DSN) as client,
        pytest.raises(ValueError, match="account id"),
    ):
        client.messages_page(since=SINCE)

    assert not route.called


def test_an_answer_without_an_items_list_is_a_permanent_error(client, respx_mock):
    respx_mock.get(MESSAGES_URL).respond(200, json={"object": "MessageList", "cursor": None})

    with pytest.raises(ProviderError) as raised:
        client.messages_page(since=SINCE)

    assert (raised.value.code, raised.value.transient) == ("unexpected_response", False)


# --- events_from_api_message --------------------------------------------------------


def test_a_received_message_is_the_senders_as_its_webhook_tells_it():
    # given the listed message the message_received webhook also told
    # when it is parsed
    (event,) = unipile.events_from_api_message(RECEIVED, account_user_id=SELF)

    # then it is the same message from the same person, in the same chat
    webhook = _webhook("message_received")
    assert isinstance(event, InboundMessage)
    assert event.provider == Provider.UNIPILE
    assert event.event_id == f"unipile:api:{RECEIVED['id']}"
    assert event.message_id == webhook.message_id
    assert event.contact.provider_id == webhook.contact.provider_id == KIM.provider_id
    assert event.from_me is False
    assert (event.type, event.text) == (MessageType.TEXT, "Hello World !")
    assert event.conversation_ref == webhook.conversation_ref == CHAT_ID
    assert event.occurred_at == webhook.occurred_at
    assert event.raw == RECEIVED


def test_an_own_message_seen_since_is_ours_then_read():
    # given our message, read by Kim since, and whom its chat is with
    # when it is parsed
    message, status = unipile.events_from_api_message(OWN_READ, counterpart=KIM)

    # then it is filed as ours in the chat with Kim, and the read follows
    own = _webhook("message_received_own")
    assert isinstance(message, InboundMessage)
    assert message.message_id == own.message_id == _webhook("message_read").message_id
    assert message.from_me is True
    assert message.contact == own.contact == KIM
    assert message.conversation_ref == CHAT_ID
    assert isinstance(status, MessageStatusUpdate)
    assert status.event_id == f"unipile:api:{OWN_READ['id']}:read"
    assert status.message_id == message.message_id
    assert status.status == MessageStatus.READ
    assert status.recipient == KIM
    assert status.occurred_at == datetime(2023, 9, 24, 14, 2, 41, 120000, tzinfo=UTC)


def test_an_own_message_delivered_but_not_seen_is_delivered():
    _, status = unipile.events_from_api_message({**OWN_READ, "seen": 0}, counterpart=KIM)

    assert status.status == MessageStatus.DELIVERED


def test_an_own_message_neither_delivered_nor_seen_has_no_status_to_correct():
    events = unipile.events_from_api_message(
        {**OWN_READ, "seen": 0, "delivered": 0}, counterpart=KIM
    )

    assert [type(event) for event in events] == [InboundMessage]


def test_the_account_user_id_tells_our_message_when_is_sender_is_missing():
    item = {key: value for key, value in OWN_READ.items() if key != "is_sender"}

    message, _ = unipile.events_from_api_message(item, account_user_id=SELF, counterpart=KIM)

    assert message.from_me is True


def test_an_own_message_without_a_counterpart_is_unsupported_and_its_status_kept():
    # given our message, and no one known to have the chat with
    # when it is parsed
    unfiled, status = unipile.events_from_api_message(OWN_READ)

    # then it cannot be filed (the REST object names only us), but its read still counts
    assert isinstance(unfiled, Unsupported)
    assert "no counterpart" in unfiled.reason
    assert isinstance(status, MessageStatusUpdate)
    assert (status.message_id, status.status) == (OWN_READ["id"], MessageStatus.READ)


def test_attachments_make_the_type_as_in_webhooks():
    attachment = {
        "id": "2-MTY5NTU2NjIwMDAwNGI0ODk1",
        "type": "file",
        "mimetype": "application/pdf",
        "file_size": 482113,
        "unavailable": False,
        "url": "att://iWfwCtGXSr288YQm5MbWVaeGtYNHQyaEZQcVpPbW5PdGNsQQ==",
    }

    (event,) = unipile.events_from_api_message(_message(text="", attachments=[attachment]))

    assert event.type == MessageType.DOCUMENT
    assert event.media == {"items": [attachment]}


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({**RECEIVED, "id": None}, "without an id"),
        ({**RECEIVED, "is_event": 1}, "chat event"),
        ({**RECEIVED, "timestamp": None}, "Not an ISO 8601 timestamp"),
        ({**RECEIVED, "sender_id": None}, "no sender_id"),
    ],
)
def test_an_unusable_item_is_unsupported_not_an_exception(item, reason):
    (event,) = unipile.events_from_api_message(item)

    assert isinstance(event, Unsupported)
    assert event.kind == "api_message"
    assert reason in event.reason
    assert event.raw == item
