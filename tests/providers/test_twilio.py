import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from providers import Provider, twilio
from providers.base import PayloadError, SignedRequest
from providers.events import (
    ContactRef,
    InboundMessage,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
    Unsupported,
)
from tests.signers.twilio import sign

FIXTURES = Path(__file__).parent.parent / "fixtures" / "twilio"
AUTH_TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://hooks.example.com/webhooks/twilio/ch_42/?tenant=acme"
RECEIVED_AT = datetime(2026, 4, 13, 12, 0, 5, tzinfo=UTC)


def _params(name: str) -> dict[str, str]:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _request(params: dict[str, str], *, headers=None, url=URL, form=True) -> SignedRequest:
    """What the webhook view builds: the url-encoded body and, for a form POST, its fields."""
    return SignedRequest(
        body=urlencode(params).encode(),
        headers={k.lower(): v for k, v in (headers or {}).items()},
        url=url,
        form={name: [value] for name, value in params.items()} if form else {},
        received_at=RECEIVED_AT,
    )


def _parse_one(name: str):
    events = twilio.parse(_request(_params(name)))
    assert len(events) == 1
    return events[0]


# --- parse --------------------------------------------------------------------------


def test_inbound_sms_is_a_text_from_the_sender():
    # given an inbound SMS
    # when it is parsed
    event = _parse_one("inbound_sms")

    # then it is the sender's text, named by the MessageSid, at the time it arrived
    assert isinstance(event, InboundMessage)
    assert event.provider == Provider.TWILIO
    assert event.message_id == "SM0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"
    assert event.event_id == "twilio:message:SM0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"
    assert event.occurred_at == RECEIVED_AT
    assert event.contact == ContactRef(phone="+14155550199")
    assert event.from_me is False
    assert event.type == MessageType.TEXT
    assert event.text == "Hi, can I move my appointment to Friday?"
    assert event.media == {}
    assert event.raw["FromCity"] == "SAN FRANCISCO"


def test_inbound_mms_lists_its_media_and_is_typed_by_the_first():
    # given an MMS with a JPEG then a PDF
    # when it is parsed
    event = _parse_one("inbound_mms")

    # then both items are listed in order, and it is an image message
    assert isinstance(event, InboundMessage)
    assert event.type == MessageType.IMAGE
    assert event.text == "Photo of the leak and the quote"
    items = event.media["items"]
    assert [item["content_type"] for item in items] == ["image/jpeg", "application/pdf"]
    assert items[1]["url"].endswith("/Media/ME2222222222222222222222222222222b")


def test_inbound_whatsapp_button_reply_names_the_whatsapp_user():
    # given a WhatsApp quick-reply button tap through Twilio
    # when it is parsed
    event = _parse_one("inbound_whatsapp")

    # then the "whatsapp:" prefix is gone, the profile is kept, and it is a button reply
    assert isinstance(event, InboundMessage)
    assert event.contact == ContactRef(
        phone="+4915123456789", wa_id="4915123456789", name="María López"
    )
    assert event.type == MessageType.BUTTON
    assert event.payload == {"text": "Yes, confirm", "payload": "confirm_booking_8812"}
    assert event.text == "Yes, confirm"


def test_inbound_whatsapp_location_carries_its_coordinates():
    # given a shared WhatsApp location
    params = _params("inbound_whatsapp")
    for name in ("ButtonText", "ButtonPayload"):
        del params[name]
    params |= {"MessageType": "location", "Body": "", "Latitude": "52.52", "Longitude": "13.405"}
    params["Address"] = "Alexanderplatz, Berlin"

    # when it is parsed
    [event] = twilio.parse(_request(params))

    # then it is a location message
    assert event.type == MessageType.LOCATION
    assert event.payload == {
        "latitude": 52.52,
        "longitude": 13.405,
        "address": "Alexanderplatz, Berlin",
        "label": "",
    }


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("status_sent", MessageStatus.SENT),
        ("status_delivered", MessageStatus.DELIVERED),
        ("status_read", MessageStatus.READ),
    ],
)
def test_status_callback_moves_the_message_to_its_status(name, status):
    # given a status callback
    params = _params(name)

    # when it is parsed
    [event] = twilio.parse(_request(params))

    # then it updates that message, once per (sid, status)
    sid = params["MessageSid"]
    assert isinstance(event, MessageStatusUpdate)
    assert event.message_id == sid
    assert event.status == status
    assert event.event_id == f"twilio:status:{sid}:{params['MessageStatus']}"
    assert event.occurred_at == RECEIVED_AT
    assert event.error_code == ""


def test_status_callback_recipient_is_the_to_number_without_channel_prefix():
    [event] = twilio.parse(_request(_params("status_read")))

    assert event.recipient == ContactRef(phone="+4915123456789")


def test_undelivered_status_is_a_failure_with_twilios_error():
    # given an undelivered callback with error 30003
    # when it is parsed
    event = _parse_one("status_undelivered_with_error")

    # then the message failed, and the error code and title are kept
    assert isinstance(event, MessageStatusUpdate)
    assert event.status == MessageStatus.FAILED
    assert event.error_code == "30003"
    assert event.error_title == "Unreachable destination handset"
    assert event.recipient == ContactRef(phone="+14155550198")
    assert event.event_id == "twilio:status:SM2b1a0f9e8d7c4b6a5f4e3d2c1b0a9f8e:undelivered"


@pytest.mark.parametrize(
    ("twilio_status", "status"),
    [
        ("accepted", MessageStatus.QUEUED),
        ("scheduled", MessageStatus.QUEUED),
        ("queued", MessageStatus.QUEUED),
        ("sending", MessageStatus.QUEUED),
        ("sent", MessageStatus.SENT),
        ("delivered", MessageStatus.DELIVERED),
        ("read", MessageStatus.READ),
        ("undelivered", MessageStatus.FAILED),
        ("failed", MessageStatus.FAILED),
        ("canceled", MessageStatus.FAILED),
    ],
)
def test_every_twilio_status_has_its_place_in_our_lifecycle(twilio_status, status):
    params = _params("status_sent") | {"MessageStatus": twilio_status, "SmsStatus": twilio_status}

    [event] = twilio.parse(_request(params))

    assert event.status == status


def test_unknown_status_is_unsupported():
    params = _params("status_sent") | {"MessageStatus": "partially_delivered"}

    [event] = twilio.parse(_request(params))

    assert isinstance(event, Unsupported)
    assert event.kind == "partially_delivered"
    assert event.event_id == f"twilio:status:{params['MessageSid']}:partially_delivered"


def test_body_is_parsed_when_the_form_was_not_given():
    # given a stored request replayed with only its body (no parsed form)
    request = _request(_params("inbound_sms"), form=False)

    # when it is parsed
    [event] = twilio.parse(request)

    # then it reads the same
    assert event.message_id == "SM0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"
    assert event.text == "Hi, can I move my appointment to Friday?"


@pytest.mark.parametrize(
    "body",
    [b'{"MessageSid": "SM1"}', b"Body=hello&From=%2B14155550199", b"\xff\xfe"],
)
def test_body_without_a_message_sid_is_a_payload_error(body):
    with pytest.raises(PayloadError):
        twilio.parse(SignedRequest(body=body))


# --- verify -------------------------------------------------------------------------


def test_signed_form_post_is_verified():
    params = _params("inbound_sms")
    request = _request(params, headers=sign(URL, params, AUTH_TOKEN))

    assert twilio.verify(request, AUTH_TOKEN)


def test_signature_made_without_port_verifies_a_url_with_443():
    # given Twilio signed the URL without a port, and the view rebuilt it with :443
    params = _params("status_delivered")
    headers = sign("https://hooks.example.com/webhooks/twilio", params, AUTH_TOKEN)
    request = _request(params, headers=headers, url="https://hooks.example.com:443/webhooks/twilio")

    assert twilio.verify(request, AUTH_TOKEN)


def test_signature_made_with_443_verifies_a_url_without_port():
    params = _params("status_delivered")
    headers = sign("https://hooks.example.com:443/webhooks/twilio", params, AUTH_TOKEN)
    request = _request(params, headers=headers, url="https://hooks.example.com/webhooks/twilio")

    assert twilio.verify(request, AUTH_TOKEN)


def test_repeated_names_are_signed_with_every_value():
    # given a form where one name repeats, signed as contract C3 says: names sorted,
    # then each value of a repeated name, sorted
    form = {"Body": ["hello"], "MediaUrl": ["https://b.example/2", "https://a.example/1"]}
    signed = URL + "Bodyhello" + "MediaUrlhttps://a.example/1" + "MediaUrlhttps://b.example/2"
    digest = hmac.new(AUTH_TOKEN.encode(), signed.encode(), hashlib.sha1).digest()
    headers = {"x-twilio-signature": base64.b64encode(digest).decode()}
    body = b"Body=hello&MediaUrl=https://b.example/2&MediaUrl=https://a.example/1"

    # when it is verified with every value, then with the last one lost
    every_value = SignedRequest(body=body, headers=headers, url=URL, form=form)
    lost = form | {"MediaUrl": ["https://b.example/2"]}
    one_value = SignedRequest(body=body, headers=headers, url=URL, form=lost)

    # then only the full form passes
    assert twilio.verify(every_value, AUTH_TOKEN)
    assert not twilio.verify(one_value, AUTH_TOKEN)


def test_shared_key_webhook_is_verified_with_the_algorithm_it_names():
    # given a webhook signed with a SharedKey and HMAC-SHA256, as its settings header says
    params = _params("inbound_sms")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(URL, params, "HMAC_SHA256")
    headers = {
        "X-Twilio-Signature": signature,
        "X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256",
    }

    # then it verifies, and the same signature without the settings header does not
    assert twilio.verify(_request(params, headers=headers), AUTH_TOKEN)
    sha1_assumed = {"X-Twilio-Signature": signature}
    assert not twilio.verify(_request(params, headers=sha1_assumed), AUTH_TOKEN)


def test_json_body_is_checked_against_the_urls_body_hash():
    # given a JSON webhook whose URL carries the body's SHA-256, and only the URL signed
    body = b'{"MessageSid": "SM1", "MessageStatus": "delivered"}'
    url = f"https://hooks.example.com/webhooks/twilio?bodySHA256={hashlib.sha256(body).hexdigest()}"
    headers = {k.lower(): v for k, v in sign(url, {}, AUTH_TOKEN).items()}

    # then the body as sent passes and a changed body does not
    assert twilio.verify(SignedRequest(body=body, headers=headers, url=url), AUTH_TOKEN)
    tampered = SignedRequest(body=body.replace(b"delivered", b"read"), headers=headers, url=url)
    assert twilio.verify(tampered, AUTH_TOKEN).reason == "bad signature"


def test_missing_signature_is_refused():
    verification = twilio.verify(_request(_params("inbound_sms")), AUTH_TOKEN)

    assert not verification
    assert verification.reason == "missing signature"


def test_signature_with_another_auth_token_is_refused():
    params = _params("inbound_sms")
    request = _request(params, headers=sign(URL, params, "fedcba9876543210fedcba9876543210"))
    verification = twilio.verify(request, AUTH_TOKEN)

    assert not verification
    assert verification.reason == "bad signature"


def test_tampered_field_is_refused():
    params = _params("inbound_sms")
    headers = sign(URL, params, AUTH_TOKEN)
    verification = twilio.verify(_request(params | {"Body": "STOP"}, headers=headers), AUTH_TOKEN)

    assert not verification
    assert verification.reason == "bad signature"


def test_signature_for_another_url_is_refused():
    params = _params("inbound_sms")
    headers = sign("https://hooks.example.com/webhooks/twilio/ch_43/", params, AUTH_TOKEN)
    verification = twilio.verify(_request(params, headers=headers), AUTH_TOKEN)

    assert not verification
    assert verification.reason == "bad signature"


def test_empty_auth_token_refuses_even_a_well_signed_request():
    params = _params("inbound_sms")
    verification = twilio.verify(_request(params, headers=sign(URL, params, AUTH_TOKEN)), "")

    assert not verification
    assert verification.reason == "no secret configured"
