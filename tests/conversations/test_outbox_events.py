"""Each change a conversation goes through is recorded in the outbox once, in the
change's transaction: nothing when it rolls back, nothing twice when it is repeated."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from conversations import services
from conversations.batch import Inbound, events_apply
from conversations.consent import consent_set
from conversations.consent_models import ConsentSource
from conversations.models import Conversation, ConversationStatus, Direction, Message
from outbox.models import OutboxEvent
from providers import Provider
from providers.events import (
    ContactRef,
    InboundMessage,
    MessageStatus,
    MessageStatusUpdate,
    MessageType,
)
from tests.factories import (
    ContactFactory,
    ConversationFactory,
    MembershipFactory,
    MessageFactory,
    OrganizationFactory,
)
from tests.markers import postgresql_only
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db


def _fails_after(record) -> None:
    with transaction.atomic():
        record()
        raise RuntimeError("the change failed")


T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _message(message_id: str, at: datetime = T0, wa_id: str = "16505551234") -> InboundMessage:
    return InboundMessage(
        provider=Provider.WHATSAPP_CLOUD,
        event_id=f"test:{message_id}",
        occurred_at=at,
        raw={},
        message_id=message_id,
        contact=ContactRef(phone=f"+{wa_id}", wa_id=wa_id),
        type=MessageType.TEXT,
        text=f"message {message_id}",
    )


def _status(message_id: str, status: MessageStatus, **fields) -> MessageStatusUpdate:
    return MessageStatusUpdate(
        provider=Provider.WHATSAPP_CLOUD,
        event_id=f"status:{message_id}:{status}",
        occurred_at=T0 + timedelta(minutes=1),
        raw={},
        message_id=message_id,
        status=status,
        **fields,
    )


def _events(type: str | None = None) -> list[OutboxEvent]:
    events = OutboxEvent.objects.order_by("id")
    return list(events.filter(type=type) if type else events)


@pytest.fixture
def whatsapp(db):
    return make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)


def test_a_first_message_records_the_conversation_then_the_message(whatsapp):
    services.inbound_message_apply(channel=whatsapp, message=_message("wamid.1"))

    message, conversation = Message.objects.get(), Conversation.objects.get()
    created, received = _events()
    assert (created.type, received.type) == ("conversation.created", "message.received")
    assert created.body["contact_id"] == conversation.contact_id
    assert received.organization_id == whatsapp.organization_id
    assert (received.channel_id, received.conversation_id) == (whatsapp.pk, conversation.pk)
    assert received.occurred_at == T0
    assert received.body == {
        "message_id": message.pk,
        "conversation_id": conversation.pk,
        "channel_id": whatsapp.pk,
        "contact_id": conversation.contact_id,
        "direction": "inbound",
        "type": "text",
        "text": "message wamid.1",
        "provider_message_id": "wamid.1",
        "status": "received",
        "occurred_at": T0.isoformat(),
        "bot_active": True,
    }


def test_a_redelivered_message_records_nothing_again(whatsapp):
    services.inbound_message_apply(channel=whatsapp, message=_message("wamid.1"))
    services.inbound_message_apply(channel=whatsapp, message=_message("wamid.2"))

    assert services.inbound_message_apply(channel=whatsapp, message=_message("wamid.1")) == (
        "duplicate"
    )

    assert [e.type for e in _events()] == [
        "conversation.created",
        "message.received",
        "message.received",
    ]


def test_a_rolled_back_batch_records_nothing(whatsapp):
    with pytest.raises(RuntimeError, match="the change failed"):
        _fails_after(
            lambda: events_apply(inbound=[Inbound(whatsapp, _message("wamid.1"))], statuses=[])
        )

    assert not OutboxEvent.objects.exists()


def _batch_queries(channel, first: int, size: int) -> int:
    """A batch of `size` messages, each from someone new (a contact, a conversation)."""
    numbers = range(first, first + size)
    inbound = [Inbound(channel, _message(f"wamid.{n}", wa_id=f"1650555{n:04d}")) for n in numbers]
    with CaptureQueriesContext(connection) as queries:
        events_apply(inbound=inbound, statuses=[])
    return len(queries)


@postgresql_only("SQLite splits a bulk insert at its limit of bound parameters")
def test_a_batch_records_its_events_in_as_many_queries_whatever_its_size(whatsapp):
    small = _batch_queries(whatsapp, 0, 2)
    large = _batch_queries(whatsapp, 100, 40)  # new contacts and conversations too

    assert small == large
    assert len(_events("message.received")) == 42
    assert len(_events("conversation.created")) == 42
    inserts = [q for q in _captured_sql(whatsapp) if 'INSERT INTO "outbox_outboxevent"' in q]
    assert len(inserts) == 1


def _captured_sql(channel) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        events_apply(inbound=[Inbound(channel, _message("wamid.c"))], statuses=[])
    return [q["sql"] for q in queries]


def test_statuses_record_each_move_once_and_a_failure_its_reason(whatsapp):
    conversation = ConversationFactory(organization=whatsapp.organization, channel=whatsapp)
    out = MessageFactory(
        conversation=conversation,
        direction=Direction.OUTBOUND,
        status="sent",
        provider_message_id="wamid.OUT",
    )

    services.message_status_apply(channel=whatsapp, update=_status("wamid.OUT", "delivered"))
    services.message_status_apply(channel=whatsapp, update=_status("wamid.OUT", "delivered"))
    other = MessageFactory(
        conversation=conversation,
        direction=Direction.OUTBOUND,
        status="sent",
        provider_message_id="wamid.F",
    )
    failed = _status("wamid.F", "failed", error_code="131026", error_title="Undeliverable")
    services.message_status_apply(channel=whatsapp, update=failed)

    delivered, failure = _events("message.status_changed")
    assert delivered.body["message_id"] == out.pk
    assert (delivered.body["previous_status"], delivered.body["status"]) == ("sent", "delivered")
    assert failure.body["message_id"] == other.pk
    assert (failure.body["status"], failure.body["error_code"]) == ("failed", "131026")
    assert failure.body["error_title"] == "Undeliverable"


def test_the_provider_accepting_a_message_records_it_sent(whatsapp):
    conversation = ConversationFactory(organization=whatsapp.organization, channel=whatsapp)
    queued = MessageFactory(
        conversation=conversation,
        direction=Direction.OUTBOUND,
        status="queued",
        provider_message_id="",
    )

    services.message_outbound_accepted(message_id=queued.pk, provider_message_id="wamid.NEW")

    (sent,) = _events()
    assert sent.type == "message.sent"
    assert sent.body["provider_message_id"] == "wamid.NEW"
    assert sent.body["contact_id"] == conversation.contact_id
    assert sent.conversation_id == conversation.pk


def test_assigning_records_the_change_and_not_a_repeat(whatsapp):
    conversation = ConversationFactory(organization=whatsapp.organization, channel=whatsapp)
    agent = MembershipFactory(organization=whatsapp.organization).user

    services.conversation_assign(conversation=conversation, assignee_id=agent.pk)
    services.conversation_assign(conversation=conversation, assignee_id=agent.pk)
    services.conversation_assign(conversation=conversation, assignee_id=None)

    assigned, unassigned = _events("conversation.assigned")
    assert (assigned.body["assignee_id"], assigned.body["previous_assignee_id"]) == (agent.pk, None)
    assert (unassigned.body["assignee_id"], unassigned.body["previous_assignee_id"]) == (
        None,
        agent.pk,
    )


def test_status_changes_by_an_agent_and_by_the_customer_writing_again(whatsapp):
    services.inbound_message_apply(channel=whatsapp, message=_message("wamid.1"))
    conversation = Conversation.objects.get()

    services.conversation_status_set(conversation=conversation, status=ConversationStatus.CLOSED)
    services.inbound_message_apply(
        channel=whatsapp, message=_message("wamid.2", T0 + timedelta(hours=1))
    )

    closed, reopened = _events("conversation.status_changed")
    assert (closed.body["previous_status"], closed.body["status"]) == ("open", "closed")
    assert (reopened.body["previous_status"], reopened.body["status"]) == ("closed", "open")
    assert reopened.occurred_at == T0 + timedelta(hours=1)


def test_consent_changes_record_opted_out_and_opted_in_but_not_a_repeat(whatsapp):
    contact = ContactFactory(organization=whatsapp.organization)

    for state in ("opted_out", "opted_out", "subscribed"):
        consent_set(
            contact=contact, kind="sms", scope="marketing", state=state, source=ConsentSource.API
        )

    assert [e.type for e in _events()] == ["contact.opted_out", "contact.opted_in"]
    opted_in = _events()[1]
    assert opted_in.body["contact_id"] == contact.pk
    assert (opted_in.body["previous_state"], opted_in.body["state"]) == ("opted_out", "subscribed")
    assert opted_in.conversation_id is None
