"""The 24-hour window rules at their edges, with the clock moved by time-machine."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from conversations import services
from conversations.models import Conversation
from conversations.window import WindowState, window_note_template, window_status
from providers import Provider
from providers.events import ContactRef, InboundMessage, MessageType
from tenants.models import WindowPolicy
from tests.factories import OrganizationFactory
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _customer_writes(channel, message_id: str, at: datetime) -> Conversation:
    message = InboundMessage(
        provider=channel.provider,
        event_id=f"test:{message_id}",
        occurred_at=at,
        raw={},
        message_id=message_id,
        contact=ContactRef(phone="+16505551234", wa_id="16505551234"),
        type=MessageType.TEXT,
        text="hello",
    )
    services.inbound_message_apply(channel=channel, message=message)
    return Conversation.objects.select_related("channel").get()


@pytest.fixture
def whatsapp(db):
    return make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)


def test_the_window_is_open_until_one_second_before_24_hours(whatsapp):
    conversation = _customer_writes(whatsapp, "m1", T0)

    with time_machine.travel(T0 + timedelta(hours=24) - timedelta(seconds=1), tick=False):
        status = window_status(conversation)

    assert status.state == WindowState.ACTIVE
    assert status.seconds_remaining == 1
    assert status.can_send_free_form
    assert status.can_send_template


def test_the_window_is_expired_at_exactly_24_hours(whatsapp):
    conversation = _customer_writes(whatsapp, "m1", T0)

    with time_machine.travel(T0 + timedelta(hours=24), tick=False):
        status = window_status(conversation)

    assert status.state == WindowState.EXPIRED
    assert status.expires_at == T0 + timedelta(hours=24)
    assert (status.seconds_remaining, status.can_send_free_form) == (0, False)
    assert status.can_send_template  # templates may be sent at any time


def test_hours_remaining_follow_the_clock(whatsapp):
    conversation = _customer_writes(whatsapp, "m1", T0)

    with time_machine.travel(T0 + timedelta(hours=22, minutes=30), tick=False):
        assert window_status(conversation).hours_remaining == 1.5


def test_a_conversation_without_customer_messages_has_no_window(whatsapp):
    conversation = _customer_writes(whatsapp, "m1", T0)
    conversation.last_user_message_at = conversation.window_expires_at = None

    status = window_status(conversation)

    assert (status.state, status.can_send_free_form) == (WindowState.NONE, False)


def test_a_late_older_message_does_not_shorten_the_window(whatsapp):
    _customer_writes(whatsapp, "m2", T0 + timedelta(hours=5))
    conversation = _customer_writes(whatsapp, "m1", T0)

    with time_machine.travel(T0 + timedelta(hours=28), tick=False):
        status = window_status(conversation)

    assert status.state == WindowState.ACTIVE
    assert status.expires_at == T0 + timedelta(hours=29)


def test_the_stored_flag_is_not_trusted(whatsapp):
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False):
        conversation = _customer_writes(whatsapp, "m1", T0)
    assert conversation.is_window_open  # as stored when the message was applied

    with time_machine.travel(T0 + timedelta(days=2), tick=False):
        assert window_status(conversation).state == WindowState.EXPIRED


def test_window_status_costs_no_query_on_a_loaded_conversation(whatsapp, django_assert_num_queries):
    conversation = _customer_writes(whatsapp, "m1", T0)

    with django_assert_num_queries(0):
        window_status(conversation)


def test_under_meta_policy_a_template_does_not_open_the_window(whatsapp):
    conversation = _customer_writes(whatsapp, "m1", T0)
    sent_at = T0 + timedelta(days=3)

    window_note_template(conversation, at=sent_at)

    assert conversation.last_template_message_at == sent_at
    with time_machine.travel(sent_at + timedelta(minutes=1), tick=False):
        assert window_status(conversation).state == WindowState.EXPIRED


def test_under_template_opens_policy_a_template_opens_the_window(whatsapp):
    whatsapp.window_policy = WindowPolicy.TEMPLATE_OPENS
    whatsapp.save()
    conversation = _customer_writes(whatsapp, "m1", T0)
    sent_at = T0 + timedelta(days=3)

    window_note_template(conversation, at=sent_at)

    with time_machine.travel(sent_at + timedelta(hours=23), tick=False):
        status = window_status(conversation)
    assert status.state == WindowState.ACTIVE
    assert status.expires_at == sent_at + timedelta(hours=24)


def test_always_open_channels_allow_free_form_at_any_time(db):
    sms = make_channel(OrganizationFactory(), Provider.OPENPHONE)
    conversation = _customer_writes(sms, "s1", T0)

    with time_machine.travel(T0 + timedelta(days=30), tick=False):
        status = window_status(conversation)

    assert (status.state, status.expires_at, status.can_send_free_form) == (
        WindowState.ACTIVE,
        None,
        True,
    )
