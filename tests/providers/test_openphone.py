import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from providers import Provider, openphone
from providers.base import PayloadError, SignedRequest
from providers.events import (
    CallEvent,
    CallStatus,
    ContactRef,
    InboundMessage,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
    Unsupported,
)
from tests.signers.openphone import sign, sign_standard

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openphone"
LEGACY_SECRET = base64.b64encode(b"openphone-legacy-signing-key-32b").decode()
STANDARD_SECRET = "whsec_" + base64.b64encode(b"quo-standard-webhooks-key-32byte").decode()


def _body(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def _parse_one(name: str, **request):
    events = openphone.parse(SignedRequest(body=_body(name), **request))
    assert len(events) == 1
    return events[0]


def _signed(body: bytes, headers: dict[str, str], **request) -> SignedRequest:
    return SignedRequest(body=body, headers={k.lower(): v for k, v in headers.items()}, **request)


# --- parse --------------------------------------------------------------------------


def test_message_received_is_an_inbound_text_from_the_customer():
    # given a legacy message.received for an incoming SMS
    # when it is parsed
    event = _parse_one("message_received")

    # then it is the customer's text, named by the envelope id and timed by the message
    assert isinstance(event, InboundMessage)
    assert event.provider == Provider.OPENPHONE
    assert event.event_id == "openphone:EVc67ec998b35c41d388af50799aeeba3e"
    assert event.message_id == "AC24a8b8321c4f4cf2be110f4250793d51"
    assert event.occurred_at == datetime(2022, 1, 23, 16, 55, 52, 420000, tzinfo=UTC)
    assert event.contact == ContactRef(phone="+18005550100")
    assert event.from_me is False
    assert event.type == MessageType.TEXT
    assert event.text == "Hello"
    assert event.media == {}
    assert event.conversation_ref == "CN78ba0373683c48fd8fd96bc836c51f79"
    assert event.raw["id"] == "EVc67ec998b35c41d388af50799aeeba3e"


def test_message_received_with_media_is_typed_by_its_first_item():
    # given an MMS with a photo then a PDF
    # when it is parsed
    event = _parse_one("message_received_with_media")

    # then it is an image message carrying both items
    assert isinstance(event, InboundMessage)
    assert event.type == MessageType.IMAGE
    assert event.text == ""
    assert [item["type"] for item in event.media["items"]] == ["image/jpeg", "application/pdf"]
    assert event.media["items"][0]["url"].endswith("/photo-1.jpg")


def test_outgoing_message_received_is_ours_and_names_the_customer_it_went_to():
    # given a message sent from the Quo app, echoed as message.received "outgoing"
    # when it is parsed
    event = _parse_one("message_received_outgoing")

    # then it is from us, and the contact is the recipient
    assert isinstance(event, InboundMessage)
    assert event.from_me is True
    assert event.contact == ContactRef(phone="+18005550100")
    assert event.text == "Sent from the Quo app on my phone"
    assert event.event_id == "openphone:EV0a1b2c3d4e5f40718293a4b5c6d7e8f9"


def test_message_delivered_is_our_message_then_its_delivered_status():
    # given a message.delivered (the message may have been sent from the Quo app)
    # when it is parsed
    message, event = openphone.parse(SignedRequest(body=_body("message_delivered")))

    # then the message itself comes first, ours, with its text and its own time
    assert isinstance(message, InboundMessage)
    assert message.from_me is True
    assert message.message_id == "AC3c2b1a0f9e8d4c7b6a5f4e3d2c1b0a9f"
    assert message.contact == ContactRef(phone="+18005550100")
    assert message.text == "Your order has shipped"
    assert message.event_id == "openphone:EV5d4c3b2a19084f7e6d5c4b3a29180f7e:message"
    assert message.occurred_at == datetime(2022, 1, 23, 17, 20, 28, 412000, tzinfo=UTC)
    # and the sent message is delivered, at the time of the delivery event
    assert isinstance(event, MessageStatusUpdate)
    assert event.message_id == "AC3c2b1a0f9e8d4c7b6a5f4e3d2c1b0a9f"
    assert event.status == MessageStatus.DELIVERED
    assert event.recipient == ContactRef(phone="+18005550100")
    assert event.event_id == "openphone:EV5d4c3b2a19084f7e6d5c4b3a29180f7e"
    assert event.occurred_at == datetime(2022, 1, 23, 17, 20, 31, 6000, tzinfo=UTC)


def test_call_completed_unanswered_is_a_missed_call_from_the_customer():
    event = _parse_one("call_completed")

    assert isinstance(event, CallEvent)
    assert event.call_id == "ACa1b2c3d4e5f64718293a4b5c6d7e8f90"
    assert (event.status, event.from_me, event.duration) == (CallStatus.MISSED, False, None)
    assert event.contact == ContactRef(phone="+18005550100")
    assert event.started_at == datetime(2022, 1, 24, 9, 12, 1, tzinfo=UTC)
    assert event.conversation_ref == "CN78ba0373683c48fd8fd96bc836c51f79"


def test_call_completed_answered_has_the_talk_time_and_a_voicemail_its_url():
    answered = _parse_one("call_completed_answered")
    voicemail = _parse_one("call_completed_voicemail")

    assert (answered.status, answered.duration) == (CallStatus.COMPLETED, 242)
    assert voicemail.status == CallStatus.MISSED
    assert voicemail.voicemail["duration"] == 24
    assert voicemail.voicemail["url"].startswith("https://storage.googleapis.com/")


def test_a_call_summary_names_only_its_call():
    event = _parse_one("call_summary_completed")

    assert isinstance(event, CallEvent)
    assert (event.call_id, event.contact, event.status) == (
        "ACf1e2d3c4b5a64978899aabbccddeeff0",
        ContactRef(),
        None,
    )
    assert len(event.summary) == 2
    assert event.next_steps == ["Text the tracking number once it ships."]


def test_a_call_summary_without_a_call_id_is_a_payload_error():
    body = json.loads(_body("call_summary_completed"))
    del body["data"]["object"]["callId"]

    with pytest.raises(PayloadError):
        openphone.parse(SignedRequest(body=json.dumps(body).encode()))


def test_new_envelope_message_comes_from_data_resource():
    # given a message.received from the 2026-03-30 webhooks (text, `to` as a list)
    # when it is parsed
    event = _parse_one("message_received_new_envelope")

    # then it reads the same as a legacy one
    assert isinstance(event, InboundMessage)
    assert event.event_id == "openphone:EV7e6d5c4b3a2940f8e7d6c5b4a3928170"
    assert event.message_id == "AC6e5d4c3b2a194f8e7d6c5b4a39281706"
    assert event.text == "Is the store open on Sunday?"
    assert event.contact == ContactRef(phone="+14155550199")
    assert event.from_me is False
    assert event.occurred_at == datetime(2026, 4, 13, 11, 59, 58, 731000, tzinfo=UTC)
    assert event.conversation_ref == "CN0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c"


@pytest.mark.parametrize(
    ("name", "kind", "event_id"),
    [
        ("contact_updated", "contact.updated", "openphone:EV1a2b3c4d5e6f47089a1b2c3d4e5f6a7b"),
    ],
)
def test_contacts_are_unsupported(name, kind, event_id):
    # given an event we do not handle
    # when it is parsed
    event = _parse_one(name)

    # then it is recorded as unsupported, with its own id and time
    assert isinstance(event, Unsupported)
    assert event.kind == kind
    assert event.event_id == event_id
    assert event.occurred_at.tzinfo is not None
    assert event.raw["type"] == kind


def test_body_that_is_not_json_is_a_payload_error():
    with pytest.raises(PayloadError):
        openphone.parse(SignedRequest(body=b"type=message.received"))


def test_message_event_without_a_message_object_is_a_payload_error():
    body = json.dumps({"id": "EV1", "type": "message.received", "data": {}}).encode()
    with pytest.raises(PayloadError):
        openphone.parse(SignedRequest(body=body))


# --- verify: legacy openphone-signature -----------------------------------------------


def test_legacy_signature_is_verified():
    body = _body("message_received")
    request = _signed(body, sign(body, LEGACY_SECRET))

    assert openphone.verify(request, LEGACY_SECRET)


def test_legacy_header_with_several_signatures_passes_if_one_matches():
    # given a header carrying a rotated-out signature before the good one
    body = _body("message_received")
    good = sign(body, LEGACY_SECRET)["openphone-signature"]
    old_secret = base64.b64encode(b"an-older-signing-key-of-32-bytes").decode()
    old = sign(body, old_secret)["openphone-signature"]
    request = _signed(body, {"openphone-signature": f"{old},{good}"})

    # then it is verified
    assert openphone.verify(request, LEGACY_SECRET)


def test_missing_signature_is_refused():
    verification = openphone.verify(SignedRequest(body=_body("message_received")), LEGACY_SECRET)

    assert not verification
    assert verification.reason == "missing signature"


def test_legacy_signature_with_another_secret_is_refused():
    body = _body("message_received")
    other = base64.b64encode(b"someone-elses-signing-key-32byte").decode()
    verification = openphone.verify(_signed(body, sign(body, other)), LEGACY_SECRET)

    assert not verification
    assert verification.reason == "bad signature"


def test_legacy_signature_over_a_tampered_body_is_refused():
    body = _body("message_received")
    headers = sign(body, LEGACY_SECRET)
    tampered = body.replace(b'"Hello"', b'"Send me your password"')
    verification = openphone.verify(_signed(tampered, headers), LEGACY_SECRET)

    assert not verification
    assert verification.reason == "bad signature"


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_legacy_signature_six_minutes_off_the_arrival_is_stale(offset):
    # given a request received at a fixed time, signed six minutes before or after it
    received_at = datetime(2026, 4, 13, 12, 0, tzinfo=UTC)
    body = _body("message_received")
    headers = sign(body, LEGACY_SECRET, at=received_at + offset)

    # when it is verified
    verification = openphone.verify(_signed(body, headers, received_at=received_at), LEGACY_SECRET)

    # then it is refused as stale, though the signature itself is right
    assert not verification
    assert verification.reason == "stale timestamp"


def test_legacy_signature_four_minutes_old_is_fresh():
    received_at = datetime(2026, 4, 13, 12, 0, tzinfo=UTC)
    body = _body("message_received")
    headers = sign(body, LEGACY_SECRET, at=received_at - timedelta(minutes=4))

    assert openphone.verify(_signed(body, headers, received_at=received_at), LEGACY_SECRET)


# --- verify: Standard Webhooks (webhook-id / webhook-timestamp / webhook-signature) ----


def test_standard_webhooks_signature_is_verified():
    body = _body("message_received_new_envelope")
    request = _signed(body, sign_standard(body, STANDARD_SECRET))

    assert openphone.verify(request, STANDARD_SECRET)


def test_standard_webhooks_secret_stored_without_its_prefix_still_verifies():
    body = _body("message_received_new_envelope")
    request = _signed(body, sign_standard(body, STANDARD_SECRET))

    assert openphone.verify(request, STANDARD_SECRET.removeprefix("whsec_"))


def test_standard_webhooks_without_a_signature_header_is_refused():
    body = _body("message_received_new_envelope")
    headers = sign_standard(body, STANDARD_SECRET)
    del headers["webhook-signature"]
    verification = openphone.verify(_signed(body, headers), STANDARD_SECRET)

    assert not verification
    assert verification.reason == "missing signature"


def test_standard_webhooks_with_another_secret_is_refused():
    body = _body("message_received_new_envelope")
    other = "whsec_" + base64.b64encode(b"someone-elses-standard-key-32byt").decode()
    verification = openphone.verify(_signed(body, sign_standard(body, other)), STANDARD_SECRET)

    assert not verification
    assert verification.reason == "bad signature"


def test_standard_webhooks_over_a_tampered_body_is_refused():
    body = _body("message_received_new_envelope")
    headers = sign_standard(body, STANDARD_SECRET)
    tampered = body.replace(b"Sunday", b"Monday")
    verification = openphone.verify(_signed(tampered, headers), STANDARD_SECRET)

    assert not verification
    assert verification.reason == "bad signature"


def test_standard_webhooks_six_minutes_before_arrival_is_stale():
    # given a request that arrived three minutes from now, signed six minutes before that:
    # within svix's window around the wall clock, outside ours around the arrival
    received_at = datetime.now(UTC) + timedelta(minutes=3)
    body = _body("message_received_new_envelope")
    headers = sign_standard(body, STANDARD_SECRET, at=received_at - timedelta(minutes=6))

    # when it is verified
    request = _signed(body, headers, received_at=received_at)
    verification = openphone.verify(request, STANDARD_SECRET)

    # then the arrival time decides, and it is stale
    assert not verification
    assert verification.reason == "stale timestamp"


# --- verify: no secret ----------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["legacy", "standard"])
def test_empty_secret_refuses_even_a_well_signed_request(scheme):
    body = _body("message_received")
    headers = (
        sign(body, LEGACY_SECRET) if scheme == "legacy" else sign_standard(body, STANDARD_SECRET)
    )
    verification = openphone.verify(_signed(body, headers), "")

    assert not verification
    assert verification.reason == "no secret configured"
