"""Stored webhooks applied to conversations: exactly once, in order, whatever comes."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from conversations.models import Contact, Conversation, Message, PendingStatusUpdate
from providers import Provider
from tenants.models import ChannelEvent
from tests.webhooks.delivery import FIXTURES, INBOUND_TEXT, fixture_text
from webhooks.models import EventStatus, WebhookEvent
from webhooks.processing import webhook_event_process

pytestmark = pytest.mark.django_db


def _outbound(channel, provider_message_id: str) -> Message:
    """A message we sent (the outbound capability stores these; here by hand)."""
    contact = Contact.objects.create(organization=channel.organization, phone="+16505551234")
    conversation = Conversation.objects.create(
        organization=channel.organization, channel=channel, contact=contact
    )
    return Message.objects.create(
        organization=channel.organization,
        channel=channel,
        conversation=conversation,
        direction="outbound",
        provider_message_id=provider_message_id,
        status="sent",
    )


def test_an_inbound_message_becomes_one_message_in_a_conversation(client, endpoint):
    response = endpoint.deliver(client, INBOUND_TEXT[endpoint.provider])

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert (event.status, event.result) == (EventStatus.PROCESSED, {"created": 1})
    message = Message.objects.get()
    assert message.conversation.channel == endpoint.channel
    assert message.webhook_event_id == event.id
    assert message.text
    assert event.refs == message.provider_message_id


def test_whatsapp_message_opens_the_window_from_its_provider_timestamp(client, whatsapp):
    whatsapp.deliver(client, "text")

    conversation = Conversation.objects.get()
    sent_at = datetime.fromtimestamp(1749416383, tz=UTC)
    assert conversation.last_user_message_at == sent_at
    assert conversation.window_expires_at == sent_at + timedelta(hours=24)
    assert conversation.unread_count == 1
    assert conversation.contact.name == "Sheena Nelson"
    assert conversation.contact.phone == "+16505551234"


def test_the_same_message_in_two_different_payloads_is_one_message(client, whatsapp):
    text = fixture_text(Provider.WHATSAPP_CLOUD, "text")

    whatsapp.deliver_text(client, text)
    whatsapp.deliver_text(client, text.replace("\n", "\r\n"))  # other bytes, same message

    assert WebhookEvent.objects.count() == 2
    assert Message.objects.count() == 1
    assert list(WebhookEvent.objects.order_by("id").values_list("result", flat=True)) == [
        {"created": 1},
        {"duplicate": 1},
    ]
    assert Conversation.objects.get().unread_count == 1


def test_statuses_arriving_read_delivered_sent_end_as_read(client, endpoints):
    twilio = endpoints[Provider.TWILIO]
    message = _outbound(twilio.channel, "SM8d7c6b5a4f3e4d2c1b0a9f8e7d6c5b4a")
    delivered = fixture_text(Provider.TWILIO, "status_delivered")
    read = delivered.replace('"delivered"', '"read"')
    sent = fixture_text(Provider.TWILIO, "status_sent")

    for payload in (read, delivered, sent):
        twilio.deliver_text(client, payload)

    message.refresh_from_db()
    assert message.status == "read"
    assert message.read_at is not None  # each status keeps its time
    assert message.delivered_at is not None
    assert WebhookEvent.objects.filter(status=EventStatus.PROCESSED).count() == 3


def test_a_status_for_a_message_not_seen_yet_waits_for_it(client, endpoints):
    unipile = endpoints[Provider.UNIPILE]

    unipile.deliver(client, "message_read")
    assert PendingStatusUpdate.objects.count() == 1
    assert WebhookEvent.objects.get().result == {"pending": 1}

    unipile.deliver(client, "message_received_own")

    message = Message.objects.get()
    assert (message.direction, message.status) == ("outbound", "read")
    assert not PendingStatusUpdate.objects.exists()


def test_a_failed_status_records_the_provider_error(client, whatsapp):
    message = _outbound(whatsapp.channel, _status_id("status_failed"))

    whatsapp.deliver(client, "status_failed")

    message.refresh_from_db()
    assert message.status == "failed"
    assert message.error_code == "131049"
    assert message.failed_at is not None


def test_131047_closes_the_window_locally(client, whatsapp):
    message = _outbound(whatsapp.channel, _status_id("status_failed"))
    conversation = message.conversation
    conversation.window_expires_at = datetime.now(UTC) + timedelta(hours=5)
    conversation.is_window_open = True
    conversation.save()
    payload = fixture_text(Provider.WHATSAPP_CLOUD, "status_failed").replace("131049", "131047")

    whatsapp.deliver_text(client, payload)

    conversation.refresh_from_db()
    assert conversation.is_window_open is False
    assert conversation.window_expires_at <= datetime.now(UTC)


def test_a_batch_applies_every_event_and_keeps_what_names_no_channel(client, whatsapp):
    _outbound(whatsapp.channel, "wamid.BATCH-OUT-1")

    whatsapp.deliver(client, "batch")

    event = WebhookEvent.objects.get()
    assert event.status == EventStatus.UNROUTABLE  # one number in it is not configured
    assert event.result == {
        "applied": 1,
        "pending": 1,
        "created": 1,
        "reacted": 1,  # a reaction is not a message: it goes on wamid.BATCH-OUT-2
        "unroutable": 2,
    }
    assert set(Message.objects.values_list("provider_message_id", flat=True)) == {
        "wamid.BATCH-OUT-1",
        "wamid.BATCH-IN-1",
    }


def test_account_events_are_recorded_once(client, whatsapp):
    whatsapp.deliver(client, "account_update_restriction")
    WebhookEvent.objects.update(status=EventStatus.FAILED)

    webhook_event_process(event_id=WebhookEvent.objects.get().id)  # applied a second time

    record = ChannelEvent.objects.get()
    assert (record.channel, record.kind) == (whatsapp.channel, "account_update")


def _all_fixtures():
    for provider in Provider:
        for path in sorted((FIXTURES / provider.value).glob("[!_]*.json")):
            yield pytest.param(provider, path.stem, id=f"{provider.value}-{path.stem}")


@pytest.mark.parametrize(("provider", "name"), list(_all_fixtures()))
def test_every_fixture_is_accepted_and_applied_without_error(client, endpoints, provider, name):
    response = endpoints[provider].deliver(client, name)

    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status in (EventStatus.PROCESSED, EventStatus.UNROUTABLE), event.last_error
    assert event.last_error in ("", "Some events name no configured channel.")


def _status_id(name: str) -> str:
    payload = json.loads(fixture_text(Provider.WHATSAPP_CLOUD, name))
    return payload["entry"][0]["changes"][0]["value"]["statuses"][0]["id"]


def test_a_restriction_on_template_sends_alerts_the_organization_once(
    client, whatsapp, mailoutbox, django_capture_on_commit_callbacks
):
    whatsapp.deliver(client, "account_update_restriction")  # runs what commits queue
    WebhookEvent.objects.update(status=EventStatus.FAILED)
    with django_capture_on_commit_callbacks(execute=True):
        webhook_event_process(event_id=WebhookEvent.objects.get().id)  # a replay

    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["oncall@example.com", "lead@example.com"]
    assert "templates) are restricted" in mailoutbox[0].subject


def test_an_ordinary_account_event_sends_no_alert(client, whatsapp, mailoutbox):
    whatsapp.deliver(client, "phone_number_quality_update")

    assert ChannelEvent.objects.count() == 1
    assert mailoutbox == []
