import itertools
from datetime import UTC, datetime

import pytest
import time_machine
from django.db import connection
from django.db.models import Max

from conversations.models import Conversation, Message
from conversations.services import inbound_message_apply
from integrations.notifications import READER, reply_events_consume
from outbox.models import OutboxCursor, OutboxEvent
from providers import Provider
from providers.events import ContactRef, InboundMessage, MessageType
from tenants.models import Role
from tests.factories import ChannelFactory, MembershipFactory, OrganizationFactory, UserFactory

# Wednesday 4 March 2026, 10:00 UTC: a frozen clock, never today's.
T0 = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
_ids = itertools.count(1)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def team():
    """An organization with an admin (Bea), an agent (Ada) and a WhatsApp line."""
    organization = OrganizationFactory(name="Acme", alert_emails="ops@acme.example")
    boss = UserFactory(username="bea", email="bea@acme.example")
    agent = UserFactory(username="ada", email="ada@acme.example")
    MembershipFactory(user=boss, organization=organization, role=Role.ADMIN)
    MembershipFactory(user=agent, organization=organization, role=Role.AGENT)
    channel = ChannelFactory(organization=organization, name="Front desk")
    return {"organization": organization, "boss": boss, "agent": agent, "channel": channel}


@pytest.fixture
def reader(clock):
    """The reader's cursor at the outbox's end, before the test writes anything.

    Inside a test's one transaction it is placed by hand: position_now() (what the
    reader uses in production, in autocommit) puts it past every transaction begun on
    the server so far, and one that began after this test's would put it past the
    test's own later events, whose transaction id is older."""
    if connection.vendor != "postgresql" or not connection.in_atomic_block:
        reply_events_consume()
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        (own,) = cursor.fetchone()
    last = OutboxEvent.objects.aggregate(last=Max("pk"))["last"] or 0
    OutboxCursor.objects.create(name=READER, xid=own, event_id=last)


def write(channel, text: str, *, phone: str = "+16505550101", name: str = "Carla Diaz") -> Message:
    """The customer writes: a message filed as a webhook files it."""
    message_id = f"wamid.test{next(_ids)}"
    inbound_message_apply(
        channel=channel,
        message=InboundMessage(
            provider=Provider.WHATSAPP_CLOUD,
            event_id=f"test:{message_id}",
            occurred_at=datetime.now(UTC),
            raw={},
            message_id=message_id,
            contact=ContactRef(phone=phone, wa_id=phone.lstrip("+"), name=name),
            type=MessageType.TEXT,
            text=text,
        ),
    )
    return Message.objects.get(provider_message_id=message_id)


def conversation_of(message: Message) -> Conversation:
    return Conversation.objects.get(pk=message.conversation_id)
