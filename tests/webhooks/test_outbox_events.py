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


def _types() -> list[str]:
    return list(OutboxEvent.objects.order_by("id").values_list("type", flat=True))


def test_a_whatsapp_reaction_records_message_reaction_once(client, whatsapp):
    whatsapp.deliver(client, "text")
    body = fixture_text(Provider.WHATSAPP_CLOUD, "reaction")
    resent = json.dumps(json.loads(body))  # Meta's redelivery: the same reaction again

    whatsapp.deliver_text(client, body)
    whatsapp.deliver_text(client, resent)

    assert WebhookEvent.objects.count() == 3
    assert _types().count("message.reaction") == 1
    (reaction,) = OutboxEvent.objects.filter(type="message.reaction")
    assert reaction.body["direction"] == "inbound"
    assert reaction.body["emoji"]


def test_a_unipile_reaction_and_its_removal_record_two_events(client, endpoints):
    unipile = endpoints[Provider.UNIPILE]
    unipile.deliver(client, "message_received_own")  # our message the contact reacts to

    unipile.deliver(client, "message_reaction")
    unipile.deliver(client, "message_reaction_removed")

    reacted, removed = OutboxEvent.objects.filter(type="message.reaction").order_by("id")
    assert reacted.body["message_id"] == removed.body["message_id"] is not None
    assert (reacted.body["emoji"], removed.body["emoji"]) == ("😄", "")
