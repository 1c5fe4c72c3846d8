"""A webhook delivered twice files its message, and records message.received, once."""

import json

import pytest

from outbox.models import OutboxEvent
from providers import Provider
from tests.webhooks.delivery import fixture_text
from webhooks.models import WebhookEvent
from webhooks.processing import webhook_event_process

pytestmark = pytest.mark.django_db


def test_a_redelivered_webhook_records_no_second_message_received(client, whatsapp):
    body = fixture_text(Provider.WHATSAPP_CLOUD, "text")
    resent = json.dumps(json.loads(body))  # the same message, not the same bytes
    for payload in (body, body, resent):
        whatsapp.post(client, *whatsapp.request_text(payload))

    for event_id in WebhookEvent.objects.order_by("id").values_list("id", flat=True):
        webhook_event_process(event_id=event_id)

    assert WebhookEvent.objects.count() == 2  # the byte-identical one was not stored
    assert list(OutboxEvent.objects.order_by("id").values_list("type", flat=True)) == [
        "conversation.created",
        "message.received",
    ]
