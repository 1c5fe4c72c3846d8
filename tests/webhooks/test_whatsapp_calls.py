"""WhatsApp Calling API webhooks (field `calls`) end to end: each call is one message of
type "call" in the customer's thread, and a customer's call opens the 24-hour window
(Meta: the customer service window starts or refreshes for calls as for messages)."""

from datetime import UTC, datetime, timedelta

import pytest

from conversations.models import Conversation, ConversationStatus, Message
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db

CALL_ID = "wacid.HBgLMTY1MDU1NTEyMzQVAgASGCA4MjE3RTg4NzQ0RkY0NzY3RTVDMDAyMjdBQjI2NjAA"


def _at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def test_a_customer_s_call_rings_in_their_thread_and_opens_the_window(client, whatsapp):
    # when the customer calls the business number
    whatsapp.deliver(client, "call_connect")

    # then the call is an inbound call of their conversation, unread
    call = Message.objects.get()
    assert (call.type, call.direction, call.text) == ("call", "inbound", "Incoming call")
    assert call.provider_message_id == CALL_ID
    assert call.provider_timestamp == _at(1751760000)
    conversation = call.conversation
    assert conversation.contact.name == "Sheena Nelson"
    assert conversation.unread_count == 1
    # and the window is open for 24 hours from the call
    assert conversation.last_user_message_at == _at(1751760000)
    assert conversation.window_expires_at == _at(1751760000) + timedelta(hours=24)
    assert WebhookEvent.objects.get().result == {"created": 1}


def test_the_end_of_an_answered_call_gives_its_duration(client, whatsapp):
    whatsapp.deliver(client, "call_connect")

    whatsapp.deliver(client, "call_terminate")

    call = Message.objects.get()
    assert call.text == "Call, 2 min 5 s"
    assert call.payload["call"]["status"] == "completed"
    assert call.payload["call"]["duration"] == 125
    assert call.conversation.unread_count == 1
    assert call.conversation.last_message_preview == "Call, 2 min 5 s"


def test_a_call_nobody_took_is_a_missed_call_that_still_opens_the_window(client, whatsapp):
    # given the customer's conversation was closed
    whatsapp.deliver(client, "call_connect")
    Conversation.objects.update(status=ConversationStatus.CLOSED)

    # when a later call of theirs ends unanswered
    whatsapp.deliver(client, "call_terminate_missed")

    missed = Message.objects.exclude(provider_message_id=CALL_ID).get()
    assert (missed.direction, missed.text) == ("inbound", "Missed call")
    conversation = missed.conversation
    assert conversation.status == ConversationStatus.OPEN
    assert conversation.unread_count == 2
    assert conversation.window_expires_at == _at(1751763660) + timedelta(hours=24)


def test_a_customer_accepting_the_business_s_call_opens_the_window(client, whatsapp):
    whatsapp.deliver(client, "call_status_accepted")

    call = Message.objects.get()
    assert (call.type, call.direction) == ("call", "outbound")
    assert call.payload["call"]["status"] == "answered"
    conversation = call.conversation
    assert conversation.contact.phone == "+16505551234"
    assert conversation.unread_count == 0
    assert conversation.window_expires_at == _at(1751770012) + timedelta(hours=24)
