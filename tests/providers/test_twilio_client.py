import base64
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import parse_qsl

import pytest

from providers.events import MessageStatus
from providers.http import ProviderError
from providers.twilio_client import TwilioClient

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
SEND_URL = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
CALLBACK = "https://hooks.example.com/webhooks/twilio/ch_42/"
MESSAGE_SID = "SM" + "a" * 32


def _created(status: str = "queued") -> dict:
    return {"sid": MESSAGE_SID, "status": status, "to": "+15558675310", "body": "Hi"}


@pytest.fixture
def client():
    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, "+15017122661", CALLBACK) as twilio:
        yield twilio


def _form(route) -> dict[str, str]:
    return dict(parse_qsl(route.calls.last.request.content.decode()))


def test_send_text_posts_the_form_with_basic_auth(client, respx_mock):
    # given Twilio creates the message
    route = respx_mock.post(SEND_URL).respond(201, json=_created())

    # when a text is sent
    client.send_text(to="+15558675310", text="Hi there")

    # then it is a form POST to the account's Messages, authenticated as the account
    request = route.calls.last.request
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert _form(route) == {
        "To": "+15558675310",
        "From": "+15017122661",
        "Body": "Hi there",
        "StatusCallback": CALLBACK,
    }


def test_without_a_callback_none_is_sent(respx_mock):
    route = respx_mock.post(SEND_URL).respond(201, json=_created())

    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, "+15017122661") as client:
        client.send_text(to="+15558675310", text="Hi")

    assert "StatusCallback" not in _form(route)


@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [
        ("queued", MessageStatus.QUEUED),
        ("accepted", MessageStatus.QUEUED),
        ("sent", MessageStatus.SENT),
    ],
)
def test_the_sid_and_first_status_are_returned(client, respx_mock, twilio_status, status):
    respx_mock.post(SEND_URL).respond(201, json=_created(twilio_status))

    sent = client.send_text(to="+15558675310", text="Hi")

    assert (sent.message_id, sent.status) == (MESSAGE_SID, status)


def test_a_messaging_service_sends_as_the_service(respx_mock):
    # given a channel sending through a Messaging Service rather than one number
    service_sid = "MG" + "b" * 32
    route = respx_mock.post(SEND_URL).respond(201, json=_created("accepted"))

    with TwilioClient(ACCOUNT_SID, AUTH_TOKEN, service_sid) as client:
        client.send_text(to="+15558675310", text="Hi")

    # then Twilio is told the service, and picks the number itself
    form = _form(route)
    assert form["MessagingServiceSid"] == service_sid
    assert "From" not in form


def test_a_whatsapp_address_keeps_its_channel(client, respx_mock):
    route = respx_mock.post(SEND_URL).respond(201, json=_created())

    client.send_text(to="whatsapp:15558675310", text="Hi")

    assert _form(route)["To"] == "whatsapp:+15558675310"


def test_an_invalid_number_is_a_permanent_error_with_twilios_code(client, respx_mock):
    # given Twilio refuses the recipient
    error = {
        "code": 21211,
        "message": "The 'To' number +1555 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211",
        "status": 400,
    }
    respx_mock.post(SEND_URL).respond(400, json=error)

    # when a text is sent
    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+15558675310", text="Hi")

    # then the error carries Twilio's code and message and is not retried
    assert raised.value.code == "21211"
    assert raised.value.title == "The 'To' number +1555 is not a valid phone number."
    assert raised.value.status_code == 400
    assert raised.value.transient is False
    assert raised.value.raw["more_info"] == "https://www.twilio.com/docs/errors/21211"


def test_too_many_requests_is_transient_and_reads_an_http_date_retry_after(client, respx_mock):
    retry_at = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    error = {"code": 20429, "message": "Too Many Requests", "status": 429}
    respx_mock.post(SEND_URL).respond(429, headers={"Retry-After": retry_at}, json=error)

    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+15558675310", text="Hi")

    assert raised.value.code == "20429"
    assert raised.value.transient is True
    assert 25 <= raised.value.retry_after <= 30


def test_a_twilio_server_error_is_transient(client, respx_mock):
    error = {"code": 20500, "message": "Internal Server Error", "status": 500}
    respx_mock.post(SEND_URL).respond(500, json=error)

    with pytest.raises(ProviderError) as raised:
        client.send_text(to="+15558675310", text="Hi")

    assert (raised.value.code, raised.value.transient) == ("20500", True)
