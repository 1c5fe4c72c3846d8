"""OpenPhone (Quo) payload kinds end to end: signed, stored, processed, filed."""

import pytest

from conversations.models import Conversation, Message, PendingStatusUpdate
from providers import Provider
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
