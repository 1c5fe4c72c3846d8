import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from providers import Provider, twilio
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
from providers.twilio_client import TwilioClient

FIXTURES = Path(__file__).parent.parent / "fixtures" / "twilio"
ACCOUNT_SID = "AC1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
MESSAGES_URL = f"https://api.twilio.com{MESSAGES_PATH}"
NEXT_PAGE_URI = (
    f"{MESSAGES_PATH}?DateSent%3E=2026-04-01&DateSent%3C=2026-04-13"
    "&PageSize=1000&Page=1&PageToken=PASM0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"
)
BUSINESS = "+14155550100"
START = datetime(2026, 4, 1, 23, 30, tzinfo=UTC)
END = datetime(2026, 4, 13, 0, 15, tzinfo=UTC)


def _message(**fields) -> dict:
    """A message as the Messages list gives it (contract C4)."""
    return {
        "sid": "SM0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c",
        "account_sid": ACCOUNT_SID,
        "status": "received",
        "direction": "inbound",
        "from": "+14155550199",
        "to": BUSINESS,
        "body": "Hi, can I move my appointment to Friday?",
        "num_media": "0",
        "num_segments": "1",
        "error_code": None,
        "error_message": None,
        "date_created": "Mon, 13 Apr 2026 12:00:03 +0000",
        "date_sent": "Mon, 13 Apr 2026 12:00:04 +0000",
        "date_updated": "Mon, 13 Apr 2026 12:00:04 +0000",
        "price": None,
        "messaging_service_sid": "MG5a4b3c2d1e0f4a9b8c7d6e5f4a3b2c1d",
        "uri": f"{MESSAGES_PATH[:-5]}/SM0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c.json",
        **fields,
    }


# The messages of the webhook fixtures inbound_sms.json, status_delivered.json and
# status_undelivered_with_error.json, as the list gives them.
INBOUND = _message()
DELIVERED = _message(
    sid="SM8d7c6b5a4f3e4d2c1b0a9f8e7d6c5b4a",
    status="delivered",
    direction="outbound-api",
    **{"from": BUSINESS, "to": "+14155550199"},
    body="See you Friday at 10.",
    date_created="Mon, 13 Apr 2026 12:04:58 +0000",
    date_sent="Mon, 13 Apr 2026 12:04:59 +0000",
    date_updated="Mon, 13 Apr 2026 12:05:02 +0000",
)
UNDELIVERED = _message(
    sid="SM2b1a0f9e8d7c4b6a5f4e3d2c1b0a9f8e",
    status="undelivered",
    direction="outbound-api",
    **{"from": BUSINESS, "to": "+14155550198"},
    body="Your table is ready.",
    error_code=30003,
    error_message="Unreachable destination handset",
    date_created="Mon, 13 Apr 2026 12:10:00 +0000",
    date_updated="Mon, 13 Apr 2026 12:10:09 +0000",
)


def _page(messages: list[dict], next_page_uri: str | None) -> dict:
    return {
        "messages": messages,
        "first_page_uri": f"{MESSAGES_PATH}?PageSize=1000&Page=0",
        "next_page_uri": next_page_uri,
        "previous_page_uri": None,
        "page": 0,
        "page_size": 1000,
        "uri": f"{MESSAGES_PATH}?PageSize=1000&Page=0",
    }


@pytest.fixture
def client():
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, BUSINESS) as twilio_client:
        yield twilio_client


def _params(route, call: int = -1) -> dict[str, str]:
    return dict(route.calls[call].request.url.params.multi_items())


def _webhook(name: str):
    params = json.loads((FIXTURES / f"{name}.json").read_text())
    body = urlencode(params).encode()
    (event,) = twilio.parse(SignedRequest(body=body))
    return event


# --- messages_page ------------------------------------------------------------------


def test_the_first_page_asks_for_the_days_sent_with_basic_auth(client, respx_mock):
    # given Twilio has one page of messages
    route = respx_mock.get(MESSAGES_URL).respond(200, json=_page([INBOUND], None))

    # when the first page of the window is asked for
    page = client.messages_page(sent_after=START, sent_before=END)

    # then the query is the window's days (UTC) and the largest page, as the account
    assert _params(route) == {
        "DateSent>": "2026-04-01",
        "DateSent<": "2026-04-13",
        "PageSize": "1000",
    }
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert route.calls.last.request.headers["Authorization"] == f"Basic {credentials}"
    assert page == Page(items=[INBOUND], next=None)


def test_a_follow_up_page_gets_the_uri_twilio_gave(client, respx_mock):
    # given the cursor of a first page: Twilio's next_page_uri
    route = respx_mock.get(MESSAGES_URL).respond(200, json=_page([DELIVERED], None))

    # when the next page is asked for
    client.messages_page(sent_after=START, sent_before=END, cursor=NEXT_PAGE_URI, page_size=50)

    # then that URI is requested as it is, on the API's host (no page number made up)
    request = route.calls.last.request
    assert request.url.host == "api.twilio.com"
    assert request.url.raw_path.decode() == NEXT_PAGE_URI
    assert _params(route) == {
        "DateSent>": "2026-04-01",
        "DateSent<": "2026-04-13",
        "PageSize": "1000",
        "Page": "1",
        "PageToken": "PASM0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c",
    }


@pytest.mark.parametrize(
    "cursor",
    [
        f"https://attacker.example{MESSAGES_PATH}?Page=1",
        f"//attacker.example{MESSAGES_PATH}?Page=1",
        "/2010-04-01/Accounts/ACffffffffffffffffffffffffffffffff/Messages.json?Page=1",
        f"{MESSAGES_PATH[:-5]}/SM0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c.json",
    ],
)
def test_a_cursor_that_is_not_this_accounts_messages_is_refused(client, respx_mock, cursor):
    # given a stored cursor naming another host, account or resource
    route = respx_mock.route().respond(200, json=_page([], None))

    # when it is used
    with pytest.raises(ProviderError) as raised:
        client.messages_page(sent_after=START, sent_before=END, cursor=cursor)

    # then nothing is sent anywhere: the credentials stay home
    assert (raised.value.code, raised.value.transient) == ("invalid_cursor", False)
    assert not route.called


def test_paging_follows_next_page_uri_to_the_end(client, respx_mock):
    route = respx_mock.get(MESSAGES_URL).mock(
        side_effect=[
            httpx.Response(200, json=_page([INBOUND], NEXT_PAGE_URI)),
            httpx.Response(200, json=_page([DELIVERED, UNDELIVERED], None)),
        ]
    )

    sids, cursor = [], ""
    while True:
        page = client.messages_page(sent_after=START, sent_before=END, cursor=cursor)
        sids += [item["sid"] for item in page.items]
        if page.next is None:
            break
        cursor = page.next

    assert sids == [INBOUND["sid"], DELIVERED["sid"], UNDELIVERED["sid"]]
    assert route.call_count == 2
    assert _params(route, 1)["PageToken"] == "PASM0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"


def test_the_rate_limit_is_transient_and_says_when_to_retry(client, respx_mock):
    error = {"code": 20429, "message": "Too Many Requests", "status": 429}
    respx_mock.get(MESSAGES_URL).respond(429, headers={"Retry-After": "5"}, json=error)

    with pytest.raises(ProviderError) as raised:
        client.messages_page(sent_after=START, sent_before=END)

    assert raised.value.code == "20429"
    assert raised.value.transient is True
    assert raised.value.retry_after == 5.0


def test_an_answer_without_a_messages_list_is_a_permanent_error(client, respx_mock):
    respx_mock.get(MESSAGES_URL).respond(200, json={"next_page_uri": None})

    with pytest.raises(ProviderError) as raised:
        client.messages_page(sent_after=START, sent_before=END)

    assert (raised.value.code, raised.value.transient) == ("unexpected_response", False)


# --- events_from_api_message --------------------------------------------------------


def test_an_inbound_message_is_the_customers_as_its_webhook_tells_it():
    # given the listed message the inbound webhook also told
    # when it is parsed
    (event,) = twilio.events_from_api_message(INBOUND)

    # then it is the same message from the same customer, timed by its creation
    webhook = _webhook("inbound_sms")
    assert isinstance(event, InboundMessage)
    assert event.provider == Provider.TWILIO
    assert event.event_id == f"twilio:api:{INBOUND['sid']}"
    assert event.message_id == webhook.message_id
    assert event.contact == webhook.contact == ContactRef(phone="+14155550199")
    assert event.from_me is False
    assert (event.type, event.text) == (MessageType.TEXT, webhook.text)
    assert event.occurred_at == datetime(2026, 4, 13, 12, 0, 3, tzinfo=UTC)
    assert event.raw == INBOUND


def test_an_outbound_delivered_message_is_ours_then_delivered():
    message, status = twilio.events_from_api_message(DELIVERED)

    assert isinstance(message, InboundMessage)
    assert message.message_id == _webhook("status_delivered").message_id
    assert message.from_me is True
    assert message.contact == ContactRef(phone="+14155550199")
    assert message.occurred_at == datetime(2026, 4, 13, 12, 4, 58, tzinfo=UTC)
    assert isinstance(status, MessageStatusUpdate)
    assert status.event_id == f"twilio:api:{DELIVERED['sid']}:delivered"
    assert status.message_id == message.message_id
    assert status.status == MessageStatus.DELIVERED
    assert status.occurred_at == datetime(2026, 4, 13, 12, 5, 2, tzinfo=UTC)
    assert status.recipient == ContactRef(phone="+14155550199")
    assert (status.error_code, status.error_title) == ("", "")


def test_an_undelivered_message_is_failed_with_twilios_error():
    # given a message Twilio could not deliver
    # when it is parsed
    message, status = twilio.events_from_api_message(UNDELIVERED)

    # then its failure carries the same code and words as the status callback's
    webhook = _webhook("status_undelivered_with_error")
    assert message.message_id == status.message_id == webhook.message_id
    assert status.status == webhook.status == MessageStatus.FAILED
    assert status.event_id == f"twilio:api:{UNDELIVERED['sid']}:failed"
    assert (status.error_code, status.error_title) == (webhook.error_code, webhook.error_title)
    assert status.error_code == "30003"


def test_a_whatsapp_read_message_is_read():
    item = _message(
        sid="SM6f5e4d3c2b1a4f0e9d8c7b6a5f4e3d2c",
        status="read",
        direction="outbound-api",
        **{"from": f"whatsapp:{BUSINESS}", "to": "whatsapp:+4915123456789"},
    )

    message, status = twilio.events_from_api_message(item)

    assert message.message_id == _webhook("status_read").message_id
    assert message.contact == ContactRef(phone="+4915123456789")
    assert status.status == MessageStatus.READ


@pytest.mark.parametrize("reported", ["queued", "sending", "sent", "accepted"])
def test_an_outbound_message_not_yet_delivered_has_no_status_to_correct(reported):
    events = twilio.events_from_api_message({**DELIVERED, "status": reported})

    assert [type(event) for event in events] == [InboundMessage]


def test_an_mms_counts_its_media_and_says_where_twilio_lists_them():
    media_uri = f"{MESSAGES_PATH[:-5]}/MM7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29/Media.json"
    item = _message(
        sid="MM7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a29",
        num_media="2",
        subresource_uris={"media": media_uri},
    )

    (event,) = twilio.events_from_api_message(item)

    assert event.message_id == _webhook("inbound_mms").message_id
    assert event.type == MessageType.DOCUMENT  # the list names no content types
    assert event.media == {"count": 2, "uri": media_uri}


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        ({**INBOUND, "sid": None}, "without a sid"),
        ({**INBOUND, "direction": "sideways"}, "direction 'sideways'"),
        ({**INBOUND, "date_created": "yesterday", "date_sent": None}, "Not an RFC 2822 date"),
        ({**INBOUND, "from": ""}, "without the other party"),
        ({**INBOUND, "num_media": "two"}, "num_media is not a number"),
    ],
)
def test_an_unusable_item_is_unsupported_not_an_exception(item, reason):
    (event,) = twilio.events_from_api_message(item)

    assert isinstance(event, Unsupported)
    assert event.kind == "api_message"
    assert reason in event.reason
    assert event.raw == item
