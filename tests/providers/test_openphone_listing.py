from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from providers import Provider, openphone
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
from providers.openphone_client import OpenPhoneClient

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openphone"
API_KEY = "op-test-key"
MESSAGES_URL = "https://api.openphone.com/v1/messages"
CONVERSATIONS_URL = "https://api.openphone.com/v1/conversations"
OWN_NUMBER = "+18885550101"
CUSTOMER = "+18005550100"
START = datetime(2022, 1, 23, 0, 0, tzinfo=UTC)
END = datetime(2022, 1, 24, 0, 0, tzinfo=UTC)

# The REST objects of the messages in the webhook fixtures message_received.json and
# message_delivered.json: text in `text`, `to` a list.
RECEIVED = {
    "id": "AC24a8b8321c4f4cf2be110f4250793d51",
    "to": [OWN_NUMBER],
    "from": CUSTOMER,
    "text": "Hello",
    "phoneNumberId": "PNtoDbDhuz",
    "direction": "incoming",
    "userId": "USu5AsEHuQ",
    "status": "received",
    "createdAt": "2022-01-23T16:55:52.420Z",
    "updatedAt": "2022-01-23T16:55:52.420Z",
}
DELIVERED = {
    "id": "AC3c2b1a0f9e8d4c7b6a5f4e3d2c1b0a9f",
    "to": [CUSTOMER],
    "from": OWN_NUMBER,
    "text": "Your order has shipped",
    "phoneNumberId": "PNtoDbDhuz",
    "direction": "outgoing",
    "userId": "USu5AsEHuQ",
    "status": "delivered",
    "createdAt": "2022-01-23T17:20:28.412Z",
    "updatedAt": "2022-01-23T17:20:31.006Z",
}


@pytest.fixture
def client():
    with OpenPhoneClient(API_KEY, "PNtoDbDhuz") as openphone_client:
        yield openphone_client


def _page(items: list[dict], next_token: str | None) -> dict:
    return {"data": items, "totalItems": len(items), "nextPageToken": next_token}


def _first_page(client: OpenPhoneClient) -> Page:
    return client.messages_page(
        phone_number_id="PNtoDbDhuz", participant=CUSTOMER, created_after=START, created_before=END
    )


def _params(route, call: int = -1) -> dict[str, str]:
    return dict(route.calls[call].request.url.params.multi_items())


def _webhook(name: str):
    """The message a webhook carries (a delivery carries the message, then its status)."""
    event, *_ = openphone.parse(SignedRequest(body=(FIXTURES / f"{name}.json").read_bytes()))
    return event


# --- messages_page ------------------------------------------------------------------


def test_the_first_messages_page_asks_for_one_participant_in_the_window(client, respx_mock):
    # given OpenPhone has one page of messages
    route = respx_mock.get(MESSAGES_URL).respond(200, json=_page([RECEIVED], None))

    # when the first page of a number's messages with one participant is asked for
    page = client.messages_page(
        phone_number_id="PNtoDbDhuz",
        participant=CUSTOMER,
        created_after=START,
        created_before=END,
    )

    # then the query names the number, the participant and the window in UTC with "Z"
    assert _params(route) == {
        "phoneNumberId": "PNtoDbDhuz",
        "participants": CUSTOMER,
        "createdAfter": "2022-01-23T00:00:00.000Z",
        "createdBefore": "2022-01-24T00:00:00.000Z",
        "maxResults": "100",
    }
    assert route.calls.last.request.headers["Authorization"] == API_KEY
    assert page == Page(items=[RECEIVED], next=None)


def test_a_follow_up_page_passes_the_token_back(client, respx_mock):
    route = respx_mock.get(MESSAGES_URL).respond(200, json=_page([DELIVERED], None))

    client.messages_page(
        phone_number_id="PNtoDbDhuz",
        participant=CUSTOMER,
        created_after=START,
        created_before=END,
        cursor="eyJwYWdlIjoyfQ",
        max_results=50,
    )

    assert _params(route) == {
        "phoneNumberId": "PNtoDbDhuz",
        "participants": CUSTOMER,
        "createdAfter": "2022-01-23T00:00:00.000Z",
        "createdBefore": "2022-01-24T00:00:00.000Z",
        "maxResults": "50",
        "pageToken": "eyJwYWdlIjoyfQ",
    }


def test_a_window_in_another_zone_is_sent_in_utc(client, respx_mock):
    route = respx_mock.get(MESSAGES_URL).respond(200, json=_page([], None))
    paris = datetime.fromisoformat("2022-01-23T09:30:15.250+01:00")

    client.messages_page(
        phone_number_id="PNtoDbDhuz", participant=CUSTOMER, created_after=paris, created_before=END
    )

    assert _params(route)["createdAfter"] == "2022-01-23T08:30:15.250Z"


def test_a_naive_window_is_refused_before_any_request(client, respx_mock):
    route = respx_mock.get(MESSAGES_URL).respond(200, json=_page([], None))

    with pytest.raises(ValueError, match="timezone-aware"):
        client.messages_page(
            phone_number_id="PNtoDbDhuz",
            participant=CUSTOMER,
            created_after=datetime(2022, 1, 23),
            created_before=END,
        )

    assert not route.called


def test_paging_follows_the_tokens_to_the_end(client, respx_mock):
    # given two pages, the second one the last
    route = respx_mock.get(MESSAGES_URL).mock(
        side_effect=[
            httpx.Response(200, json=_page([RECEIVED], "token-2")),
            httpx.Response(200, json={"data": [DELIVERED], "totalItems": 2}),
        ]
    )

    # when pages are read until there is no next one
    ids, cursor = [], ""
    while True:
        page = client.messages_page(
            phone_number_id="PNtoDbDhuz",
            participant=CUSTOMER,
            created_after=START,
            created_before=END,
            cursor=cursor,
        )
        ids += [item["id"] for item in page.items]
        if page.next is None:
            break
        cursor = page.next

    # then every message was read once and the second request carried the first's token
    assert ids == [RECEIVED["id"], DELIVERED["id"]]
    assert "pageToken" not in _params(route, 0)
    assert _params(route, 1)["pageToken"] == "token-2"


def test_the_rate_limit_is_transient_and_says_when_to_retry(client, respx_mock):
    respx_mock.get(MESSAGES_URL).respond(429, headers={"Retry-After": "3"}, json={})

    with pytest.raises(ProviderError) as raised:
        _first_page(client)

    assert raised.value.code == "429"
    assert raised.value.transient is True
    assert raised.value.retry_after == 3.0


def test_an_answer_without_a_data_list_is_a_permanent_error(client, respx_mock):
    respx_mock.get(MESSAGES_URL).respond(200, json={"message": "ok"})

    with pytest.raises(ProviderError) as raised:
        _first_page(client)

    assert (raised.value.code, raised.value.transient) == ("unexpected_response", False)


# --- conversations_page -------------------------------------------------------------


def test_the_first_conversations_page_asks_for_the_numbers_recent_ones(client, respx_mock):
    conversation = {"id": "CN78ba", "phoneNumberId": "PNtoDbDhuz", "participants": [CUSTOMER]}
    route = respx_mock.get(CONVERSATIONS_URL).respond(200, json=_page([conversation], "next-1"))

    page = client.conversations_page(phone_number_id="PNtoDbDhuz", updated_after=START)

    assert _params(route) == {
        "phoneNumbers": "PNtoDbDhuz",
        "updatedAfterDate": "2022-01-23T00:00:00.000Z",
        "maxResults": "100",
    }
    assert page == Page(items=[conversation], next="next-1")


def test_a_follow_up_conversations_page_passes_the_token_back(client, respx_mock):
    route = respx_mock.get(CONVERSATIONS_URL).respond(200, json=_page([], None))

    page = client.conversations_page(
        phone_number_id="PNtoDbDhuz", updated_after=START, cursor="next-1", max_results=10
    )

    assert _params(route) == {
        "phoneNumbers": "PNtoDbDhuz",
        "updatedAfterDate": "2022-01-23T00:00:00.000Z",
        "maxResults": "10",
        "pageToken": "next-1",
    }
    assert page.next is None


def test_a_rate_limited_conversations_page_is_transient(client, respx_mock):
    respx_mock.get(CONVERSATIONS_URL).respond(429, headers={"Retry-After": "1"}, json={})

    with pytest.raises(ProviderError) as raised:
        client.conversations_page(phone_number_id="PNtoDbDhuz", updated_after=START)

    assert (raised.value.transient, raised.value.retry_after) == (True, 1.0)


# --- events_from_api_message --------------------------------------------------------


def test_an_incoming_message_is_the_customers_as_its_webhook_tells_it():
    # given the listed message the message.received webhook also told
    # when it is parsed
    (event,) = openphone.events_from_api_message(RECEIVED, own_number=OWN_NUMBER)

    # then it is the same message from the same customer, timed by its creation
    webhook = _webhook("message_received")
    assert isinstance(event, InboundMessage)
    assert event.provider == Provider.OPENPHONE
    assert event.event_id == f"openphone:api:{RECEIVED['id']}"
    assert event.message_id == webhook.message_id
    assert event.contact == webhook.contact == ContactRef(phone=CUSTOMER)
    assert event.from_me is False
    assert (event.type, event.text) == (MessageType.TEXT, "Hello")
    assert event.occurred_at == webhook.occurred_at
    assert event.raw == RECEIVED


def test_an_outgoing_delivered_message_is_ours_then_delivered():
    # given a message the business sent, delivered since
    # when it is parsed
    message, status = openphone.events_from_api_message(DELIVERED, own_number=OWN_NUMBER)

    # then it is filed as ours, to the customer, and its delivery follows
    assert isinstance(message, InboundMessage)
    assert message.message_id == _webhook("message_delivered").message_id
    assert message.from_me is True
    assert message.contact == ContactRef(phone=CUSTOMER)
    assert message.text == "Your order has shipped"
    assert message.occurred_at == datetime(2022, 1, 23, 17, 20, 28, 412000, tzinfo=UTC)
    assert isinstance(status, MessageStatusUpdate)
    assert status.event_id == f"openphone:api:{DELIVERED['id']}:delivered"
    assert status.message_id == message.message_id
    assert status.status == MessageStatus.DELIVERED
    assert status.occurred_at == datetime(2022, 1, 23, 17, 20, 31, 6000, tzinfo=UTC)
    assert (status.error_code, status.error_title) == ("", "")


def test_an_undelivered_message_is_failed_with_openphones_reason():
    item = {**DELIVERED, "status": "undelivered"}

    _, status = openphone.events_from_api_message(item, own_number=OWN_NUMBER)

    assert status.status == MessageStatus.FAILED
    assert status.event_id == f"openphone:api:{DELIVERED['id']}:failed"
    assert status.error_code == "undelivered"
    assert status.error_title == "OpenPhone reports the message undelivered."


@pytest.mark.parametrize("reported", ["queued", "sent"])
def test_an_outgoing_message_not_yet_delivered_has_no_status_to_correct(reported):
    events = openphone.events_from_api_message({**DELIVERED, "status": reported})

    assert [type(event) for event in events] == [InboundMessage]


def test_the_own_number_picks_the_customer_among_several_recipients():
    # given a listed message without a direction, to the business's number and another
    item = {**DELIVERED, "to": [OWN_NUMBER, CUSTOMER], "direction": None}

    # when it is parsed knowing the number (written another way)
    message, _ = openphone.events_from_api_message(item, own_number="+1 888 555 0101")

    # then it is ours (sent from the number), to the other one
    assert message.from_me is True
    assert message.contact == ContactRef(phone=CUSTOMER)


def test_media_makes_the_type_as_in_webhooks():
    media = [{"url": "https://storage.googleapis.com/x/photo.jpg", "type": "image/jpeg"}]

    (event,) = openphone.events_from_api_message({**RECEIVED, "text": "", "media": media})

    assert event.type == MessageType.IMAGE
    assert event.media == {"items": media}


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({**RECEIVED, "id": None}, "without an id"),
        ({**RECEIVED, "direction": "sideways"}, "direction 'sideways'"),
        ({**RECEIVED, "createdAt": "yesterday"}, "Not an ISO 8601 timestamp"),
        ({**RECEIVED, "from": None}, "without the other party"),
        ({**DELIVERED, "to": []}, "without the other party"),
    ],
)
def test_an_unusable_item_is_unsupported_not_an_exception(item, reason):
    (event,) = openphone.events_from_api_message(item)

    assert isinstance(event, Unsupported)
    assert event.kind == "api_message"
    assert reason in event.reason
    assert event.raw == item
