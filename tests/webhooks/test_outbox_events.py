"""A webhook delivered twice files its message, and records message.received, once."""

import json

import pytest

from outbox.models import OutboxEvent
from providers import Provider
from tests.webhooks.delivery import fixture_text
from webhooks import processing
from webhooks.models import EventStatus, WebhookEvent
from webhooks.processing import webhook_event_process
from webhooks.services import webhook_events_replay

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


# --- webhook.dead -------------------------------------------------------------------


@pytest.fixture
def broken_inbound(monkeypatch):
    def explode(*, inbound, statuses, **_):
        raise RuntimeError("conversation store unavailable")

    monkeypatch.setattr(processing, "apply_conversation_events", explode)
    return monkeypatch


def _fail_until_dead(event: WebhookEvent) -> WebhookEvent:
    for _ in range(5):  # the five retries
        assert not OutboxEvent.objects.filter(type="webhook.dead").exists()
        webhook_event_process(event_id=event.id)
    event.refresh_from_db()
    assert event.status == EventStatus.DEAD
    return event


def test_a_webhook_out_of_attempts_records_webhook_dead_once(client, whatsapp, broken_inbound):
    whatsapp.deliver(client, "text")
    event = _fail_until_dead(WebhookEvent.objects.get())

    (dead,) = OutboxEvent.objects.filter(type="webhook.dead")
    assert (dead.organization_id, dead.channel_id) == (event.organization_id, event.channel_id)
    assert dead.conversation_id is None
    assert dead.body == {
        "webhook_event_id": event.pk,
        "provider": "whatsapp_cloud",
        "channel_id": event.channel_id,
        "attempts": 6,
        "error_type": "RuntimeError",  # not the text: errors may quote the payload
        "received_at": event.received_at.isoformat(),
        "dead_at": dead.occurred_at.isoformat(),
    }


def test_a_replayed_webhook_that_dies_again_records_a_second_death(
    client, whatsapp, broken_inbound
):
    whatsapp.deliver(client, "text")
    event = _fail_until_dead(WebhookEvent.objects.get())
    webhook_events_replay(event_ids=[event.id], enqueue=False)
    webhook_event_process(event_id=event.id)  # its first attempt again: a retry is due

    assert OutboxEvent.objects.filter(type="webhook.dead").count() == 1
    for _ in range(5):
        webhook_event_process(event_id=event.id)

    assert OutboxEvent.objects.filter(type="webhook.dead").count() == 2


def test_a_death_whose_record_fails_is_not_saved_either(
    client, whatsapp, broken_inbound, monkeypatch
):
    whatsapp.deliver(client, "text")
    event = WebhookEvent.objects.get()
    for _ in range(4):
        webhook_event_process(event_id=event.id)

    def record_fails(**kwargs):
        raise RuntimeError("the outbox insert failed")

    monkeypatch.setattr("webhooks.services.event_record", record_fails)
    with pytest.raises(RuntimeError, match="outbox insert failed"):
        webhook_event_process(event_id=event.id)

    event.refresh_from_db()
    # Still leased as processing: the sweep takes it again, and its death is recorded then.
    assert (event.status, event.attempts) == (EventStatus.PROCESSING, 6)
