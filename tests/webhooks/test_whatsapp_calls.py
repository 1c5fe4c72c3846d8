"""WhatsApp Calling API webhooks (field `calls`) end to end: each call is one message of
type "call" in the customer's thread, and a customer's call opens the 24-hour window
(Meta: the customer service window starts or refreshes for calls as for messages)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.models import Conversation, ConversationStatus, Message
from providers import Provider
from tests.webhooks.delivery import fixture_text
from webhooks.models import WebhookEvent
from webhooks.processing import webhook_event_process

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


def _connect(call_id: str, wa_id: str, at: int) -> str:
    payload = json.loads(fixture_text(Provider.WHATSAPP_CLOUD, "call_connect"))
    value = payload["entry"][0]["changes"][0]["value"]
    value["contacts"][0].update({"wa_id": wa_id, "user_id": f"US.{wa_id}"})
    value["calls"][0].update({"id": call_id, "from": wa_id, "timestamp": str(at)})
    return json.dumps(payload)


def _queries_to_apply(client, whatsapp, count: int) -> int:
    WebhookEvent.objects.all().delete()
    for i in range(count):
        payload = _connect(f"wacid.Q{count}-{i}", f"1650555{count:02d}{i:02d}", 1751760000 + i)
        whatsapp.post(client, *whatsapp.request_text(payload))  # stored, not processed
    first = WebhookEvent.objects.order_by("id").first()
    with CaptureQueriesContext(connection) as queries:
        webhook_event_process(event_id=first.pk)
    assert all(r == {"created": 1} for r in WebhookEvent.objects.values_list("result", flat=True))
    return len(queries)


def test_calls_are_applied_in_batches_not_a_query_each(client, whatsapp):
    assert _queries_to_apply(client, whatsapp, 3) == _queries_to_apply(client, whatsapp, 12)
    assert Message.objects.filter(type="call").count() == 15


def test_a_call_takes_its_place_in_the_thread_by_when_it_began(client, whatsapp):
    # given messages written before and after the call, delivered after it
    def text_at(message_id: str, seconds: int) -> str:
        payload = json.loads(fixture_text(Provider.WHATSAPP_CLOUD, "text"))
        message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
        message.update({"id": message_id, "timestamp": str(seconds)})
        return json.dumps(payload)

    whatsapp.deliver(client, "call_connect")  # began at 1751760000
    whatsapp.deliver_text(client, text_at("wamid.AFTER", 1751760600))
    whatsapp.deliver_text(client, text_at("wamid.BEFORE", 1751759400))

    # then the thread reads in the order things happened, the call in its place
    conversation = Conversation.objects.get()
    thread = conversation.messages.order_by("occurred_at", "id")
    assert [m.provider_message_id for m in thread] == ["wamid.BEFORE", CALL_ID, "wamid.AFTER"]
