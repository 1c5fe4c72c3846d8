"""Conversation rules applied by the inbound services, whatever order events come in."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from conversations import services
from conversations.models import Contact, ContactIdentity, Conversation, Message
from providers import Provider
from providers.events import ContactRef, InboundMessage, MessageType
from tests.factories import OrganizationFactory
from tests.webhooks.conftest import make_channel

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _message(message_id: str, at: datetime, **contact) -> InboundMessage:
    return InboundMessage(
        provider=Provider.WHATSAPP_CLOUD,
        event_id=f"test:{message_id}",
        occurred_at=at,
        raw={},
        message_id=message_id,
        contact=ContactRef(**({"phone": "+16505551234", "wa_id": "16505551234"} | contact)),
        type=MessageType.TEXT,
        text=f"message {message_id}",
    )


@pytest.fixture
def whatsapp_channel(db):
    return make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)


def test_an_older_message_arriving_late_never_moves_the_window_back(whatsapp_channel):
    services.inbound_message_apply(channel=whatsapp_channel, message=_message("b", T0))
    services.inbound_message_apply(
        channel=whatsapp_channel, message=_message("a", T0 - timedelta(hours=3))
    )

    conversation = Conversation.objects.get()
    assert conversation.last_user_message_at == T0
    assert conversation.window_expires_at == T0 + timedelta(hours=24)
    assert conversation.last_message_preview == "message b"
    assert conversation.unread_count == 2


def test_sms_channels_have_no_window(db):
    sms = make_channel(OrganizationFactory(), Provider.TWILIO)

    services.inbound_message_apply(channel=sms, message=_message("s1", T0))

    conversation = Conversation.objects.get()
    assert (conversation.is_window_open, conversation.window_expires_at) == (True, None)


def test_a_username_only_contact_is_known_by_user_id_on_its_next_message(whatsapp_channel):
    username_only = {"phone": "", "wa_id": "", "user_id": "US.1349"}
    services.inbound_message_apply(
        channel=whatsapp_channel, message=_message("u1", T0, **username_only)
    )
    services.inbound_message_apply(
        channel=whatsapp_channel, message=_message("u2", T0, **username_only, name="Kim")
    )

    contact = Contact.objects.get()
    assert (contact.phone, contact.name) == ("", "Kim")
    assert list(ContactIdentity.objects.values_list("kind", "value")) == [("user_id", "US.1349")]


def test_the_same_phone_on_two_channels_is_one_contact(whatsapp_channel):
    sms = make_channel(whatsapp_channel.organization, Provider.TWILIO)

    services.inbound_message_apply(channel=whatsapp_channel, message=_message("w1", T0))
    services.inbound_message_apply(channel=sms, message=_message("s1", T0, wa_id=""))

    assert Contact.objects.count() == 1
    assert Conversation.objects.count() == 2


def test_a_customer_writing_reopens_a_snoozed_conversation(whatsapp_channel):
    services.inbound_message_apply(channel=whatsapp_channel, message=_message("m1", T0))
    Conversation.objects.update(status="snoozed", snoozed_until=T0 + timedelta(days=2))

    services.inbound_message_apply(channel=whatsapp_channel, message=_message("m2", T0))

    conversation = Conversation.objects.get()
    assert (conversation.status, conversation.snoozed_until) == ("open", None)


@pytest.mark.django_db(transaction=True)
def test_concurrent_workers_apply_one_conversation_one_event_at_a_time():
    channel = make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)
    services.inbound_message_apply(channel=channel, message=_message("first", T0))
    errors: list[Exception] = []

    def apply(index: int) -> None:
        try:
            at = T0 + timedelta(minutes=index)
            services.inbound_message_apply(channel=channel, message=_message(f"m{index}", at))
            services.inbound_message_apply(channel=channel, message=_message(f"m{index}", at))
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=apply, args=(i,)) for i in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    conversation = Conversation.objects.get()
    assert Message.objects.count() == 9
    assert conversation.unread_count == 9  # no lost update between workers
    assert conversation.last_user_message_at == T0 + timedelta(minutes=8)
