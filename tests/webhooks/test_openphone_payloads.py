"""OpenPhone (Quo) payload kinds end to end: signed, stored, processed, filed."""

from datetime import UTC, datetime

import pytest
from rest_framework.test import APIClient

from conversations.models import Conversation, Message, PendingStatusUpdate
from conversations.services import message_outbound_accepted
from providers import Provider
from tenants.models import Role
from tests.factories import MembershipFactory, UserFactory
from tests.webhooks.test_processing import _outbound
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db

DELIVERED_ID = "AC3c2b1a0f9e8d4c7b6a5f4e3d2c1b0a9f"  # message_delivered.json


@pytest.fixture
def openphone(endpoints):
    return endpoints[Provider.OPENPHONE]


def test_a_message_sent_from_the_quo_app_is_filed_as_ours_and_delivered(client, openphone):
    # given a message.delivered for a message sent from the Quo app, unknown to us
    # when it is delivered
    response = openphone.deliver(client, "message_delivered")

    # then it is an outbound message of the customer's conversation, with its text,
    # delivered, and nothing waits for it
    assert response.status_code == 200
    webhook = WebhookEvent.objects.get()
    assert (webhook.status, webhook.result) == (EventStatus.PROCESSED, {"created": 1, "applied": 1})
    message = Message.objects.get()
    assert (message.direction, message.status, message.text) == (
        "outbound",
        "delivered",
        "Your order has shipped",
    )
    assert message.provider_message_id == DELIVERED_ID
    assert message.delivered_at is not None
    assert message.sent_at is not None
    assert message.conversation.contact.phone == "+18005550100"
    assert message.conversation.unread_count == 0
    assert PendingStatusUpdate.objects.count() == 0
    assert Conversation.objects.get().last_message_preview == "Your order has shipped"


def test_a_delivery_of_a_message_we_sent_only_moves_its_status(client, openphone):
    # given a message we sent through the API
    sent = _outbound(openphone.channel, DELIVERED_ID)

    # when its delivery arrives
    openphone.deliver(client, "message_delivered")

    # then it is delivered, confirmed by the webhook, and no second message is filed
    assert Message.objects.get() == sent
    sent.refresh_from_db()
    assert sent.status == "delivered"
    assert sent.webhook_confirmed_at is not None
    assert WebhookEvent.objects.get().result == {"duplicate": 1, "applied": 1}


# --- Calls ------------------------------------------------------------------------------

CALL_ID = "ACf1e2d3c4b5a64978899aabbccddeeff0"  # call_ringing / _answered / _recording ...


def _call() -> Message:
    return Message.objects.get(type="call")


def test_a_ringing_call_is_an_incoming_call_in_the_customer_s_thread(client, openphone):
    openphone.deliver(client, "call_ringing")

    call = _call()
    assert (call.direction, call.text, call.provider_message_id) == (
        "inbound",
        "Incoming call",
        CALL_ID,
    )
    assert call.payload["call"]["status"] == "ringing"
    assert call.provider_timestamp == datetime(2022, 1, 24, 10, 0, tzinfo=UTC)
    conversation = call.conversation
    assert conversation.contact.phone == "+18005550100"
    assert (conversation.unread_count, conversation.last_message_preview) == (1, "Incoming call")
    assert WebhookEvent.objects.get().result == {"created": 1}


def test_a_missed_call_is_filed_as_missed(client, openphone):
    openphone.deliver(client, "call_completed")

    call = _call()
    assert (call.direction, call.text) == ("inbound", "Missed call")
    assert call.payload["call"]["status"] == "missed"
    assert call.conversation.last_message_preview == "Missed call"


def test_an_answered_call_has_its_duration(client, openphone):
    openphone.deliver(client, "call_completed_answered")

    call = _call()
    assert call.text == "Call, 4 min 2 s"
    assert call.payload["call"]["duration"] == 242
    assert call.payload["call"]["answered_at"] == "2022-01-24T10:00:08+00:00"


def test_a_voicemail_keeps_its_url(client, openphone):
    openphone.deliver(client, "call_completed_voicemail")

    call = _call()
    assert call.text == "Voicemail (24 s)"
    assert call.payload["call"]["status"] == "missed"
    assert call.payload["call"]["voicemail"]["url"].endswith(
        "/voicemails/AC0a9b8c7d6e5f40312233445566778899.mp3"
    )


def test_a_recording_completes_the_call_it_belongs_to(client, openphone):
    openphone.deliver(client, "call_completed_answered")

    openphone.deliver(client, "call_recording_completed")

    call = _call()  # still one call
    assert call.payload["call"]["recordings"] == [
        {
            "url": f"https://storage.googleapis.com/opvoice/recordings/{CALL_ID}.mp3",
            "type": "audio/mpeg",
            "duration": 242,
        }
    ]
    assert call.payload["call"]["status"] == "completed"
    assert call.conversation.unread_count == 1  # one call, one unread item
    assert WebhookEvent.objects.order_by("id").last().result == {"updated": 1}


def test_a_summary_adds_its_text_to_the_call(client, openphone):
    openphone.deliver(client, "call_completed_answered")

    openphone.deliver(client, "call_summary_completed")

    call = _call()
    assert call.text == (
        "Call, 4 min 2 s: The customer asked when order 1042 will ship. "
        "The agent confirmed it ships on Friday."
    )
    assert call.payload["call"]["next_steps"] == ["Text the tracking number once it ships."]
    assert call.conversation.last_message_preview.startswith("Call, 4 min 2 s: The customer")


def test_a_transcript_adds_the_dialogue_to_the_call(client, openphone):
    openphone.deliver(client, "call_ringing")

    openphone.deliver(client, "call_transcript_completed")

    dialogue = _call().payload["call"]["transcript"]
    assert [line["content"] for line in dialogue] == [
        "Hi, when will order 1042 ship?",
        "It ships on Friday.",
    ]


def test_a_summary_before_its_call_waits_for_it_then_applies(client, openphone):
    # given a summary that outran its call (it names no one)
    openphone.deliver(client, "call_summary_completed")
    assert WebhookEvent.objects.get().result == {"pending": 1}
    assert not Message.objects.exists()

    # when the call arrives
    openphone.deliver(client, "call_completed_answered")

    # then the call carries the summary, and nothing waits any more
    call = _call()
    assert call.text.startswith("Call, 4 min 2 s: The customer asked")
    assert call.conversation.last_message_preview == call.text
    assert PendingStatusUpdate.objects.count() == 0


def test_every_event_of_one_call_in_any_order_is_one_call(client, openphone):
    for name in ("call_recording_completed", "call_completed_answered", "call_ringing"):
        openphone.deliver(client, name)

    call = _call()
    assert call.payload["call"]["status"] == "completed"  # a late "ringing" undoes nothing
    assert call.text == "Call, 4 min 2 s"
    assert Message.objects.count() == 1


def test_a_call_reads_in_the_thread_in_the_api_and_the_admin(client, openphone, webhook_org):
    # given a voicemail left by the customer
    openphone.deliver(client, "call_completed_voicemail")
    call = _call()
    api = APIClient()
    api.force_authenticate(MembershipFactory(organization=webhook_org, role=Role.AGENT).user)

    # when the thread is read through the API
    response = api.get(f"/api/v1/conversations/{call.conversation_id}/messages/")

    # then the call is a message of the thread with its facts
    assert response.status_code == 200
    (listed,) = response.json()["results"]
    assert (listed["type"], listed["text"], listed["direction"]) == (
        "call",
        "Voicemail (24 s)",
        "inbound",
    )
    assert listed["call"]["status"] == "missed"
    assert listed["call"]["voicemail"]["url"] == call.payload["call"]["voicemail"]["url"]
    # and in the admin's conversation page, with the voicemail to listen to
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    page = client.get(f"/admin/conversations/conversation/{call.conversation_id}/change/")
    assert "Voicemail (24 s)" in page.text
    assert call.payload["call"]["voicemail"]["url"] in page.text


def test_a_delivery_reported_before_we_stored_the_id_is_one_message_sent_once(client, openphone):
    # given a message of ours the provider took, whose id we have not stored yet
    ours = _outbound(openphone.channel, "")
    Message.objects.filter(pk=ours.pk).update(status="queued")

    # when its delivery arrives first (filed as a message from the Quo app)...
    openphone.deliver(client, "message_delivered")
    # ...and then our send task stores the id the provider answered
    message_outbound_accepted(message_id=ours.pk, provider_message_id=DELIVERED_ID)

    # then there is one message, ours, delivered: nothing for the sweep to send again
    assert Message.objects.get() == ours
    ours.refresh_from_db()
    assert (ours.provider_message_id, ours.status) == (DELIVERED_ID, "delivered")
    assert ours.delivered_at is not None
