import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers import Provider
from providers import whatsapp_cloud as wa
from providers.base import PayloadError, SignedRequest
from providers.events import (
    AccountEvent,
    CallEvent,
    CallStatus,
    ContactRef,
    InboundMessage,
    MessageReaction,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
    TemplateCategoryChanged,
    TemplateQualityChanged,
    TemplateStatusChanged,
    Unsupported,
)
from tests.signers.whatsapp_cloud import sign

FIXTURES = Path(__file__).parent.parent / "fixtures" / "whatsapp_cloud"
SECRET = "app-secret-3f9a1c"
WABA = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"
RECEIVED_AT = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def body(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def parse(name: str) -> list:
    return wa.parse(SignedRequest(body=body(name), received_at=RECEIVED_AT))


def parse_one(name: str):
    events = parse(name)
    assert len(events) == 1
    return events[0]


def parse_dict(payload: dict) -> list:
    return wa.parse(SignedRequest(body=json.dumps(payload).encode(), received_at=RECEIVED_AT))


def signed(raw: bytes, secret: str = SECRET) -> SignedRequest:
    headers = {name.lower(): value for name, value in sign(raw, secret).items()}
    return SignedRequest(body=raw, headers=headers)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


# --- Inbound messages -----------------------------------------------------------------------


def test_text_message():
    # given a customer's text message
    # when it is parsed
    event = parse_one("text")

    # then it is an inbound text from a known contact, routed to our number
    assert isinstance(event, InboundMessage)
    assert event.provider == Provider.WHATSAPP_CLOUD
    assert event.type == MessageType.TEXT
    assert event.text == "Does it come in another color?"
    assert event.message_id == "wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    assert event.event_id == f"whatsapp:message:{event.message_id}"
    assert event.occurred_at == at(1749416383)
    assert event.phone_number_id == PHONE_NUMBER_ID
    assert event.waba_id == WABA
    assert event.contact.phone == "+16505551234"
    assert event.contact.wa_id == "16505551234"
    assert event.contact.user_id == "US.13491208655302741918"
    assert event.contact.name == "Sheena Nelson"
    assert event.from_me is False
    assert event.context == {}
    assert event.raw["text"] == {"body": "Does it come in another color?"}


def test_image_message():
    event = parse_one("image")

    assert event.type == MessageType.IMAGE
    assert event.text == "This one, in blue?"
    assert event.media["id"] == "1003383421387256"
    assert event.media["mime_type"] == "image/jpeg"
    assert event.media["sha256"] == "EJ2iHNx9Wl9yEvVUmVqSkYmnSvHb7yXvY1uPhUlNWhI="
    assert event.media["url"].startswith("https://lookaside.fbsbx.com/")


def test_video_message():
    event = parse_one("video")

    assert event.type == MessageType.VIDEO
    assert event.text == "How it looks after a week"
    assert event.media["id"] == "1186482765839417"
    assert event.media["mime_type"] == "video/mp4"


def test_sticker_message():
    event = parse_one("sticker")

    assert event.type == MessageType.STICKER
    assert event.text == ""
    assert event.media["id"] == "771209654178322"
    assert event.media["mime_type"] == "image/webp"


def test_voice_note():
    event = parse_one("audio_voice")

    assert event.type == MessageType.AUDIO
    assert event.text == ""
    assert event.media["voice"] is True
    assert event.media["mime_type"] == "audio/ogg; codecs=opus"
    assert event.media["id"] == "1422786918712903"


def test_document_message():
    event = parse_one("document")

    assert event.type == MessageType.DOCUMENT
    assert event.text == "The invoice you asked for"
    assert event.media["filename"] == "invoice-2025-0612.pdf"
    assert event.media["mime_type"] == "application/pdf"


def test_location_message():
    event = parse_one("location")

    assert event.type == MessageType.LOCATION
    assert event.payload["latitude"] == pytest.approx(37.4847483695049)
    assert event.payload["longitude"] == pytest.approx(-122.1473373086664)
    assert event.payload["name"] == "Meta Headquarters"
    assert event.media == {}


def test_shared_contacts_message():
    event = parse_one("contacts")

    assert event.type == MessageType.CONTACTS
    [card] = event.payload["contacts"]
    assert card["name"]["formatted_name"] == "Barbara J. Johnson"
    assert card["phones"][0]["wa_id"] == "14155550199"
    # the sender is still the customer, not the shared card
    assert event.contact.wa_id == "16505551234"


def test_interactive_button_reply():
    event = parse_one("interactive_button_reply")

    assert event.type == MessageType.INTERACTIVE
    assert event.text == "Change date"
    assert event.payload["type"] == "button_reply"
    assert event.payload["button_reply"]["id"] == "change-delivery-date"
    assert event.context["id"] == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI1QjJDQ0ZCRUFCRjFEQjk1NjkA"


def test_interactive_list_reply():
    event = parse_one("interactive_list_reply")

    assert event.type == MessageType.INTERACTIVE
    assert event.text == "Express shipping"
    assert event.payload["list_reply"]["id"] == "priority-express"
    assert event.payload["list_reply"]["description"] == "Next business day"


def test_flow_reply_text_is_its_body():
    # given a Flow completion (nfm_reply carries a body, no title)
    payload = json.loads(body("interactive_button_reply"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["interactive"] = {
        "type": "nfm_reply",
        "nfm_reply": {"name": "flow", "body": "Sent", "response_json": '{"flow_token": "t-1"}'},
    }

    [event] = parse_dict(payload)

    assert event.type == MessageType.INTERACTIVE
    assert event.text == "Sent"
    assert event.payload["nfm_reply"]["response_json"] == '{"flow_token": "t-1"}'


def test_template_quick_reply_button():
    event = parse_one("button")

    assert event.type == MessageType.BUTTON
    assert event.text == "Stop promotions"
    assert event.payload == {"payload": "STOP_PROMOTIONS", "text": "Stop promotions"}


def test_reaction_belongs_on_the_message_it_reacts_to():
    event = parse_one("reaction")

    assert isinstance(event, MessageReaction)
    assert event.message_id == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3QzE2RjZDQ0I3QTFEMzY2RUMA"
    assert event.emoji == "\U0001f62e"
    assert event.reactor == "16505551234"
    assert event.reaction_id.startswith("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzMzhE")


def test_removed_reaction_has_empty_emoji():
    event = parse_one("reaction_removed")

    assert isinstance(event, MessageReaction)
    assert event.message_id == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI3QzE2RjZDQ0I3QTFEMzY2RUMA"
    assert event.emoji == ""


def test_order():
    event = parse_one("order")

    assert event.type == MessageType.ORDER
    # a readable summary for the inbox, the customer's note after it
    assert event.text == "Order: 3 items, 2 products (85.00 USD). Please deliver before Friday"
    assert event.payload["catalog_id"] == "194836987003835"
    assert [item["product_retailer_id"] for item in event.payload["product_items"]] == [
        "di9ozbzfi4",
        "nqryix03ez",
    ]


def test_system_number_change():
    event = parse_one("system")

    assert event.type == MessageType.SYSTEM
    assert event.text == "Sheena Nelson changed from 16505551234 to 16505559876"
    assert event.payload["type"] == "user_changed_number"
    assert event.payload["wa_id"] == "16505559876"


def test_unsupported_message_keeps_meta_errors():
    event = parse_one("unsupported")

    assert event.type == MessageType.UNSUPPORTED
    assert event.payload["errors"][0]["code"] == 131051
    assert event.payload["unsupported"] == {"type": "poll"}
    assert event.event_id == f"whatsapp:message:{event.message_id}"


def test_unknown_message_type_is_kept_as_unsupported():
    # given a message type Meta added after this module was written
    payload = json.loads(body("text"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["type"] = "request_welcome"
    message.pop("text")
    message["request_welcome"] = {"source": "chat_opened"}

    [event] = parse_dict(payload)

    assert isinstance(event, InboundMessage)
    assert event.type == MessageType.UNSUPPORTED
    assert event.payload == {
        "type": "request_welcome",
        "request_welcome": {"source": "chat_opened"},
    }


def test_reply_context_and_ad_referral():
    event = parse_one("text_with_context_and_referral")

    assert event.text == "Hi! Is the spring sale still on?"
    assert event.context["id"] == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBI4QTFBMzI2MDk3MEI5NDFFNjkA"
    assert event.context["referred_product"]["product_retailer_id"] == "di9ozbzfi4"
    assert event.context["referral"]["source_type"] == "ad"
    assert event.context["referral"]["source_id"] == "120226305854810726"
    assert event.context["referral"]["ctwa_clid"].startswith("ARAkLkA8")


def test_contact_with_user_id_only():
    # given a username user: no `from`, no `wa_id`, only the business-scoped user id
    event = parse_one("contact_without_wa_id")

    assert event.type == MessageType.TEXT
    assert event.text == "Hola, ¿tienen envío a Guadalajara?"
    assert event.contact.phone == ""
    assert event.contact.wa_id == ""
    assert event.contact.user_id == "MX.2870013356281927533"
    assert event.contact.name == "Pablo Morales"


def test_contact_is_matched_by_wa_id_among_several():
    # given a value with two contacts, the second one the sender
    payload = json.loads(body("text"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"].insert(0, {"profile": {"name": "Someone Else"}, "wa_id": "447700900456"})

    [event] = parse_dict(payload)

    assert event.contact.name == "Sheena Nelson"
    assert event.contact.wa_id == "16505551234"


def test_only_contact_is_the_sender_even_when_ids_differ():
    # given Meta's normalised wa_id differing from the `from` it reports (A2)
    payload = json.loads(body("text"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["messages"][0]["from"] = "5511987654321"
    value["contacts"][0]["wa_id"] = "551187654321"

    [event] = parse_dict(payload)

    assert event.contact.name == "Sheena Nelson"
    assert event.contact.wa_id == "551187654321"
    assert event.contact.phone == "+551187654321"


def test_unparsable_wa_id_leaves_phone_empty():
    payload = json.loads(body("text"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"][0]["wa_id"] = "123"
    value["messages"][0]["from"] = "123"

    [event] = parse_dict(payload)

    assert event.contact.wa_id == "123"
    assert event.contact.phone == ""


# --- Outbound statuses ------------------------------------------------------------------------


def test_status_sent_keeps_pricing_and_conversation():
    event = parse_one("status_sent")

    assert isinstance(event, MessageStatusUpdate)
    assert event.status == MessageStatus.SENT
    assert event.message_id == "wamid.HBgLMTY1MDU1NTEyMzQVAgARGBJBQUZERjg0NDEzNDdFODU3MUMxMAA="
    assert event.event_id == f"whatsapp:status:{event.message_id}:sent"
    assert event.occurred_at == at(1750030073)
    assert event.recipient.phone == "+16505551234"
    assert event.recipient.wa_id == "16505551234"
    assert event.details["pricing"]["category"] == "marketing"
    assert event.details["conversation"]["origin"] == {"type": "marketing"}
    assert event.details["biz_opaque_callback_data"] == "campaign-spring-sale-42"
    assert "errors" not in event.details
    assert event.error_code == ""
    assert event.phone_number_id == PHONE_NUMBER_ID
    assert event.waba_id == WABA


def test_status_delivered():
    event = parse_one("status_delivered")

    assert event.status == MessageStatus.DELIVERED
    assert event.occurred_at == at(1750030081)
    assert set(event.details) == {"biz_opaque_callback_data"}


def test_status_read_carries_user_id():
    event = parse_one("status_read")

    assert event.status == MessageStatus.READ
    assert event.recipient.user_id == "US.13491208655302741918"
    assert event.details["pricing"]["pricing_model"] == "PMP"


def test_status_failed_reports_first_error():
    event = parse_one("status_failed")

    assert event.status == MessageStatus.FAILED
    assert event.error_code == "131049"
    assert event.error_title == (
        "This message was not delivered to maintain healthy ecosystem engagement."
    )
    assert event.details["errors"][0]["error_data"]["details"].startswith("In order to")


def test_played_voice_note_counts_as_read_but_keeps_its_own_event_id():
    payload = json.loads(body("status_read"))
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "played"

    [event] = parse_dict(payload)

    assert event.status == MessageStatus.READ
    assert event.event_id.endswith(":played")


def test_unknown_status_is_unsupported():
    payload = json.loads(body("status_read"))
    payload["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] = "deleted"

    [event] = parse_dict(payload)

    assert isinstance(event, Unsupported)
    assert event.kind == "status"
    assert "deleted" in event.reason
    assert event.event_id.endswith(":deleted")


def test_status_event_id_is_stable_across_redeliveries():
    # given the same status delivered twice, at different times
    first = wa.parse(SignedRequest(body=body("status_sent"), received_at=RECEIVED_AT))
    again = wa.parse(SignedRequest(body=body("status_sent"), received_at=datetime.now(UTC)))

    # then both carry the same event id, and a later status of that message does not
    assert first[0].event_id == again[0].event_id
    assert parse_one("status_delivered").event_id != first[0].event_id
    assert parse_one("status_delivered").message_id == first[0].message_id


# --- System errors, batches -------------------------------------------------------------------


def test_system_level_error():
    event = parse_one("system_errors")

    assert isinstance(event, AccountEvent)
    assert event.kind == "errors"
    assert event.event == "130429"
    assert event.details["title"] == "Rate limit hit"
    assert event.phone_number_id == PHONE_NUMBER_ID
    assert event.waba_id == WABA
    # `messages` entries carry no time: the moment we received it stands in
    assert event.occurred_at == RECEIVED_AT
    assert event.event_id.startswith(f"whatsapp:errors:{WABA}:{PHONE_NUMBER_ID}:130429:")


def test_batch_yields_every_event_in_payload_order():
    events = parse("batch")

    assert [(type(e).__name__, e.message_id) for e in events] == [
        ("MessageStatusUpdate", "wamid.BATCH-OUT-1"),
        ("MessageStatusUpdate", "wamid.BATCH-OUT-2"),
        ("InboundMessage", "wamid.BATCH-IN-1"),
        ("MessageReaction", "wamid.BATCH-OUT-2"),  # named by the message it reacts to
        ("InboundMessage", "wamid.BATCH-IN-3"),
        ("MessageStatusUpdate", "wamid.BATCH-OUT-3"),
    ]
    assert [e.waba_id for e in events] == [WABA] * 4 + ["201938475610293"] * 2
    assert events[4].phone_number_id == "398172645501827"
    assert events[4].contact.name == "Oliver Smith"
    assert events[5].status == MessageStatus.FAILED
    assert events[5].error_code == "131026"
    assert len({e.event_id for e in events}) == len(events)


# --- Template and account webhooks ----------------------------------------------------------


def test_template_rejected():
    event = parse_one("template_status_rejected")

    assert isinstance(event, TemplateStatusChanged)
    assert event.template_id == "1689556908129835"
    assert event.name == "abandoned_cart"
    assert event.language == "en"
    assert event.status == "REJECTED"
    assert event.reason == "INVALID_FORMAT"
    assert event.category == "MARKETING"
    assert event.details["rejection_info"]["recommendation"].startswith("Move the variable")
    assert event.occurred_at == at(1751247548)
    assert event.waba_id == WABA
    assert event.event_id == "whatsapp:template_status:1689556908129835:REJECTED:1751247548"


def test_template_id_integer_becomes_string():
    raw_id = json.loads(body("template_status_approved"))["entry"][0]["changes"][0]["value"][
        "message_template_id"
    ]

    event = parse_one("template_status_approved")

    assert isinstance(raw_id, int)
    assert event.template_id == str(raw_id) == "1689556908129835"


def test_template_approved():
    event = parse_one("template_status_approved")

    assert event.status == "APPROVED"
    assert event.reason == "NONE"
    assert event.details == {}


def test_template_pending_deletion_null_reason_is_empty():
    event = parse_one("template_status_pending_deletion")

    assert event.status == "PENDING_DELETION"
    assert event.reason == ""
    assert event.template_id == "927451023846192"


def test_template_quality_change():
    event = parse_one("template_quality")

    assert isinstance(event, TemplateQualityChanged)
    assert event.template_id == "806312974732579"
    assert event.name == "welcome_template"
    assert event.language == "en_US"
    assert event.previous_score == "GREEN"
    assert event.new_score == "YELLOW"
    assert event.occurred_at == at(1751418862)


def test_template_category_changed():
    event = parse_one("template_category_change")

    assert isinstance(event, TemplateCategoryChanged)
    assert event.template_id == "278077987957091"
    assert event.previous_category == "UTILITY"
    assert event.new_category == "MARKETING"
    assert event.correct_category == ""
    assert event.is_notice is False


def test_template_category_advance_notice():
    event = parse_one("template_category_notice")

    assert event.is_notice is True
    assert event.effective_at == at(1760711433)
    assert event.correct_category == "MARKETING"
    assert event.new_category == "UTILITY"
    assert event.previous_category == ""
    assert event.event_id != parse_one("template_category_change").event_id


def test_phone_number_quality_update():
    event = parse_one("phone_number_quality_update")

    assert isinstance(event, AccountEvent)
    assert event.kind == "phone_number_quality_update"
    assert event.event == "THROUGHPUT_UPGRADE"
    assert event.details["max_daily_conversations_per_business"] == "TIER_2K"
    assert event.occurred_at == at(1751500800)


def test_account_restriction():
    event = parse_one("account_update_restriction")

    assert event.kind == "account_update"
    assert event.event == "ACCOUNT_RESTRICTION"
    assert [r["restriction_type"] for r in event.details["restriction_info"]] == [
        "RESTRICTED_BIZ_INITIATED_MESSAGING",
        "RESTRICTED_ADD_PHONE_NUMBER_ACTION",
    ]
    assert event.waba_id == WABA


def test_business_capability_update():
    event = parse_one("business_capability_update")

    assert event.kind == "business_capability_update"
    assert event.event == ""
    assert event.details["max_daily_conversations_per_business"] == 2000
    assert event.details["max_phone_numbers_per_waba"] == 25


def test_account_event_id_is_stable_across_redeliveries():
    first = wa.parse(
        SignedRequest(body=body("account_update_restriction"), received_at=RECEIVED_AT)
    )
    again = wa.parse(
        SignedRequest(body=body("account_update_restriction"), received_at=datetime.now(UTC))
    )

    assert first[0].event_id == again[0].event_id


def test_a_customer_s_call_connecting_is_a_ringing_inbound_call():
    event = parse_one("call_connect")

    assert isinstance(event, CallEvent)
    assert event.call_id.startswith("wacid.")
    assert event.event_id == f"whatsapp:call:{event.call_id}:connect"
    assert (event.status, event.from_me) == (CallStatus.RINGING, False)
    assert event.contact == ContactRef(
        phone="+16505551234",
        wa_id="16505551234",
        user_id="US.13491208655302741918",
        name="Sheena Nelson",
    )
    assert event.started_at == event.occurred_at == at(1751760000)
    assert (event.phone_number_id, event.waba_id) == (PHONE_NUMBER_ID, WABA)


def test_a_terminated_call_ends_completed_or_missed():
    completed, missed = parse_one("call_terminate"), parse_one("call_terminate_missed")

    assert (completed.status, completed.duration) == (CallStatus.COMPLETED, 125)
    assert (completed.started_at, completed.ended_at) == (at(1751760008), at(1751760133))
    assert (missed.status, missed.duration, missed.started_at) == (CallStatus.MISSED, None, None)


def test_a_call_status_is_the_business_s_call_to_its_recipient():
    event = parse_one("call_status_accepted")

    assert isinstance(event, CallEvent)
    assert (event.status, event.from_me) == (CallStatus.ANSWERED, True)
    assert event.answered_at == at(1751770012)
    assert event.contact.wa_id == "16505551234"


def test_unknown_field_is_unsupported():
    event = parse_one("unknown_field")

    assert isinstance(event, Unsupported)
    assert event.kind == "user_preferences"
    assert event.phone_number_id == PHONE_NUMBER_ID
    assert event.waba_id == WABA
    assert event.occurred_at == at(1751760001)
    assert event.raw["user_preferences"][0]["value"] == "stop"


# --- Signature ----------------------------------------------------------------------------------


def test_verify_accepts_meta_signature():
    assert wa.verify(signed(body("text")), SECRET)


def test_verify_refuses_missing_signature():
    result = wa.verify(SignedRequest(body=body("text")), SECRET)

    assert not result
    assert result.reason == "missing signature"


@pytest.mark.parametrize(
    "header",
    ["b63bb356dff0f1c24379efea2d6ef0b2e2040853339d1bcf13f9018790b1f7d2", "sha1=abc", "sha256=xyz"],
)
def test_verify_refuses_malformed_signature(header):
    request = SignedRequest(body=body("text"), headers={"x-hub-signature-256": header})

    result = wa.verify(request, SECRET)

    assert not result
    assert result.reason == "malformed signature"


def test_verify_refuses_other_secret():
    result = wa.verify(signed(body("text"), secret="someone-elses-secret"), SECRET)

    assert not result
    assert result.reason == "bad signature"


def test_verify_refuses_tampered_body():
    original = signed(body("text"))
    tampered = SignedRequest(
        body=original.body.replace(b"another color", b"another colour"),
        headers=original.headers,
    )

    result = wa.verify(tampered, SECRET)

    assert not result
    assert result.reason == "bad signature"


def test_verify_hashes_raw_bytes_not_reserialized_json():
    # Meta escapes non-ASCII as \uXXXX; a re-serialised body would not match.
    raw = body("contact_without_wa_id")
    assert b"\\u00bf" in raw
    reserialised = json.dumps(json.loads(raw), ensure_ascii=False).encode()
    request = SignedRequest(body=reserialised, headers=signed(raw).headers)

    assert wa.verify(signed(raw), SECRET)
    assert not wa.verify(request, SECRET)


def test_verify_refuses_without_secret():
    result = wa.verify(signed(body("text")), "")

    assert not result
    assert result.reason == "no secret configured"


# --- Handshake and routing ------------------------------------------------------------------------


def test_handshake_returns_token_and_challenge():
    params = {"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "vt-42"}

    assert wa.handshake(params) == ("vt-42", "1158201444")


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "unsubscribe", "hub.challenge": "1158201444", "hub.verify_token": "vt-42"},
        {"hub.mode": "subscribe", "hub.challenge": "1158201444"},
        {"hub.mode": "subscribe", "hub.verify_token": "vt-42"},
        {"hub.mode": "subscribe", "hub.challenge": "", "hub.verify_token": "vt-42"},
        {},
    ],
)
def test_handshake_refuses_incomplete_requests(params):
    assert wa.handshake(params) is None


def test_routing_keys_name_every_change():
    assert wa.routing_keys(body("batch")) == [
        (PHONE_NUMBER_ID, WABA),
        (PHONE_NUMBER_ID, WABA),
        ("398172645501827", "201938475610293"),
        ("398172645501827", "201938475610293"),
    ]


def test_routing_keys_of_template_webhook_have_no_number():
    assert wa.routing_keys(body("template_status_rejected")) == [("", WABA)]


def test_routing_keys_refuse_non_object():
    with pytest.raises(PayloadError):
        wa.routing_keys(b"[1, 2]")


# --- Unreadable bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'"whatsapp_business_account"',
        b'{"object": "whatsapp_business_account"}',
        b'{"object": "whatsapp_business_account", "entry": {}}',
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": ["x"]}',
    ],
    ids=[
        "not-json",
        "not-utf8",
        "array",
        "string",
        "no-entry",
        "entry-not-list",
        "other-object",
        "entry-not-objects",
    ],
)
def test_unreadable_body_is_a_payload_error(raw):
    with pytest.raises(PayloadError):
        wa.parse(SignedRequest(body=raw))


def test_message_without_id_is_a_payload_error():
    payload = json.loads(body("text"))
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["id"]

    with pytest.raises(PayloadError):
        parse_dict(payload)


def test_empty_entry_list_has_no_events():
    assert (
        wa.parse(SignedRequest(body=b'{"object": "whatsapp_business_account", "entry": []}')) == []
    )
