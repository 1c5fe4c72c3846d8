import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from providers import Provider, unipile
from providers.base import PayloadError, SignedRequest
from providers.events import (
    ChangeKind,
    ContactRef,
    InboundMessage,
    MessageChanged,
    MessageReaction,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
    Unsupported,
)
from tests.signers.unipile import sign

FIXTURES = Path(__file__).parent.parent / "fixtures" / "unipile"
SECRET = "c2b4f1e0-unipile-webhook-secret-7d9a"
KIM = ContactRef(provider_id="ACoAAAcDMMQBODyLwZrRcgYhrkCafURGqva0U4E", name="Kim Unipile")


def _body(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def _parse_one(name: str):
    events = unipile.parse(SignedRequest(body=_body(name)))
    assert len(events) == 1
    return events[0]


# --- parse --------------------------------------------------------------------------


def test_message_received_is_the_senders_text():
    # given a LinkedIn message from Kim
    # when it is parsed
    event = _parse_one("message_received")

    # then it is Kim's text in that chat, timed by Unipile's ISO timestamp
    assert isinstance(event, InboundMessage)
    assert event.provider == Provider.UNIPILE
    assert event.message_id == "ykmhfXlRW0W_cqReJYrfBw"
    assert event.event_id == "unipile:ykmhfXlRW0W_cqReJYrfBw:message_received"
    assert event.occurred_at == datetime(2023, 9, 24, 13, 49, 7, 965000, tzinfo=UTC)
    assert event.contact == KIM
    assert event.from_me is False
    assert event.type == MessageType.TEXT
    assert event.text == "Hello World !"
    assert event.media == {}
    assert event.conversation_ref == "R8J-xM9WX7eoHLp6gSVtWQ"


def test_own_message_is_from_me_and_names_the_other_attendee():
    # given a message we sent from another device, echoed as message_received
    # when it is parsed
    event = _parse_one("message_received_own")

    # then it is ours, and the contact is the person we wrote to, not us
    assert isinstance(event, InboundMessage)
    assert event.from_me is True
    assert event.contact == KIM
    assert event.text == "Thanks Kim, I'll send the deck tomorrow."


def test_attachment_list_is_kept_and_typed_by_the_first():
    # given a message whose attachments come as a list: a PDF, then an image
    # when it is parsed
    event = _parse_one("message_received_attachment_list")

    # then both are kept, and it is a document message
    assert isinstance(event, InboundMessage)
    assert event.type == MessageType.DOCUMENT
    assert [item["id"] for item in event.media["items"]] == [
        "2-MTY5NTU2NjIwMDAwNGI0ODk1",
        "2-MTY5NTU2NjIwMDAwNGI0ODk2",
    ]


def test_single_attachment_object_is_a_one_item_list():
    # given the documented shape: one attachment object, an image
    payload = json.loads(_body("message_received"))
    payload["attachments"] = {"id": "2-MTY5", "type": "img", "url": "att://abc=="}

    # when it is parsed
    [event] = unipile.parse(SignedRequest(body=json.dumps(payload).encode()))

    # then it is an image message with that one item
    assert event.type == MessageType.IMAGE
    assert event.media == {"items": [payload["attachments"]]}


def test_reaction_names_the_reacted_message_and_the_reactor():
    # given Kim reacting to one of our messages
    # when it is parsed
    event = _parse_one("message_reaction")

    # then it is a reaction from Kim, pointing at the message, with its own id
    assert isinstance(event, MessageReaction)
    assert (event.message_id, event.emoji) == ("Qm2xT8vKQ4C3p1Zs0fYw9A", "😄")
    assert event.reactor == "ACoAAAcDMMQBODyLwZrRcgYhrkCafURGqva0U4E"
    assert event.contact == KIM
    assert event.from_me is False
    assert event.event_id == (
        "unipile:Qm2xT8vKQ4C3p1Zs0fYw9A:message_reaction:😄:ACoAAAcDMMQBODyLwZrRcgYhrkCafURGqva0U4E"
    )


def test_message_read_is_a_read_status():
    # given a read receipt
    # when it is parsed
    event = _parse_one("message_read")

    # then the message is read, by the attendee who is not us
    assert isinstance(event, MessageStatusUpdate)
    assert event.message_id == "Qm2xT8vKQ4C3p1Zs0fYw9A"
    assert event.status == MessageStatus.READ
    assert event.event_id == "unipile:Qm2xT8vKQ4C3p1Zs0fYw9A:message_read"
    assert event.recipient == KIM
    assert event.occurred_at == datetime(2023, 9, 24, 14, 10, 3, 777000, tzinfo=UTC)


def test_message_delivered_is_a_delivered_status():
    payload = json.loads(_body("message_read")) | {"event": "message_delivered"}

    [event] = unipile.parse(SignedRequest(body=json.dumps(payload).encode()))

    assert isinstance(event, MessageStatusUpdate)
    assert event.status == MessageStatus.DELIVERED
    assert event.event_id == "unipile:Qm2xT8vKQ4C3p1Zs0fYw9A:message_delivered"


def test_an_edit_names_the_message_and_its_new_text():
    event = _parse_one("message_edited")

    assert isinstance(event, MessageChanged)
    assert (event.kind, event.message_id) == (ChangeKind.EDITED, "ykmhfXlRW0W_cqReJYrfBw")
    assert event.text == "Hello World! (edited)"
    assert event.contact == KIM


def test_a_deletion_revokes_the_message():
    payload = json.loads(_body("message_deleted"))

    [event] = unipile.parse(SignedRequest(body=json.dumps(payload).encode()))

    assert isinstance(event, MessageChanged)
    assert (event.kind, event.message_id) == (ChangeKind.REVOKED, "ykmhfXlRW0W_cqReJYrfBw")


def test_unknown_events_are_unsupported():
    payload = json.loads(_body("message_edited")) | {"event": "chat_archived"}

    [event] = unipile.parse(SignedRequest(body=json.dumps(payload).encode()))

    assert isinstance(event, Unsupported)
    assert event.kind == "chat_archived"
    assert event.event_id == "unipile:ykmhfXlRW0W_cqReJYrfBw:chat_archived"


def test_v2_envelope_is_unsupported_with_a_reason():
    # given a v2 webhook (type + payload envelope)
    # when it is parsed
    event = _parse_one("v2_message_new")

    # then it is recorded as unsupported, telling the operator to configure v1
    assert isinstance(event, Unsupported)
    assert event.kind == "message.new"
    assert event.reason == "Unipile v2 webhooks are not supported; configure v1"
    assert event.event_id == "unipile:v2:evt_01HZX3K9M2R7T5V8W4Y6Q1N0PB"
    assert event.occurred_at == datetime(2025, 6, 2, 8, 41, 19, 226000, tzinfo=UTC)


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"message_id": "x"}'])
def test_body_that_is_not_a_v1_event_is_a_payload_error(body):
    with pytest.raises(PayloadError):
        unipile.parse(SignedRequest(body=body))


# --- verify -------------------------------------------------------------------------


def _with_headers(headers: dict[str, str]) -> SignedRequest:
    body = _body("message_received")
    return SignedRequest(body=body, headers={k.lower(): v for k, v in headers.items()})


def test_configured_auth_header_is_verified():
    assert unipile.verify(_with_headers(sign(_body("message_received"), SECRET)), SECRET)


def test_missing_auth_header_is_refused():
    verification = unipile.verify(_with_headers({}), SECRET)

    assert not verification
    assert verification.reason == "missing signature"


def test_wrong_auth_header_is_refused():
    verification = unipile.verify(_with_headers({"Unipile-Auth": SECRET + "x"}), SECRET)

    assert not verification
    assert verification.reason == "bad signature"


def test_empty_secret_refuses_even_an_empty_header():
    verification = unipile.verify(_with_headers({"Unipile-Auth": ""}), "")

    assert not verification
    assert verification.reason == "no secret configured"
