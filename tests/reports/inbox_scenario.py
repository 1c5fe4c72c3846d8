"""A small inbox, driven through the real services at frozen moments, whose figures
are worked out by hand in the tests (Berlin, CET: local = UTC + 1).

D1 = 2026-11-10, D2 = 2026-11-11 (local days). Episodes:
- A1 (channel 1, alice): customer 09:00 UTC D1, answered 09:30 (1800 s), closed
  10:00 (resolution 3600 s).
- B1 (channel 1, unassigned): customer 22:30 UTC D1 (23:30 local, still D1), an
  auto-reply at 22:31 (automated: not a response), answered 23:30 UTC (00:30 local
  D2) (3600 s: within the SLA, exactly).
- C1 (channel 2, alice then bob): customer 23:30 UTC D1 (00:30 local: D2), never
  answered.
- A2 (A reopened by the customer): customer 08:00 UTC D2, answered 10:00 (7200 s),
  closed 11:00 (resolution 10800 s).
A and B are read; C waits. The clock ends at 12:00 UTC D2.
"""

from datetime import UTC, datetime
from types import SimpleNamespace

import time_machine

from conversations import services as conversations
from conversations.models import Conversation, ConversationStatus
from providers import Provider
from providers.events import ContactRef, InboundMessage, MessageType
from reports.inbox_rollup import inbox_rollups_update
from tests.factories import ChannelFactory, MembershipFactory, OrganizationFactory, UserFactory

END = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


def inbound(channel, wa_id: str, message_id: str, when: datetime) -> Conversation:
    message = InboundMessage(
        provider=Provider.WHATSAPP_CLOUD,
        event_id=f"test:{message_id}",
        occurred_at=when,
        raw={},
        message_id=message_id,
        contact=ContactRef(phone=f"+{wa_id}", wa_id=wa_id),
        type=MessageType.TEXT,
        text=f"message {message_id}",
    )
    with time_machine.travel(when, tick=False):
        conversations.inbound_message_apply(channel=channel, message=message)
    return Conversation.objects.get(channel=channel, contact__phone=f"+{wa_id}")


def outbound(conversation, provider_id: str, when: datetime, payload=None) -> None:
    with time_machine.travel(when, tick=False):
        message = conversations.message_outbound_create(
            conversation=conversation, type=MessageType.TEXT, text="Hi", payload=payload or {}
        )
        conversations.message_outbound_accepted(
            message_id=message.pk, provider_message_id=provider_id
        )


def status(conversation, value: ConversationStatus, when: datetime) -> None:
    with time_machine.travel(when, tick=False):
        conversations.conversation_status_set(
            conversation=Conversation.objects.get(pk=conversation.pk), status=value
        )


def assign(conversation, user, when: datetime) -> None:
    with time_machine.travel(when, tick=False):
        conversations.conversation_assign(
            conversation=Conversation.objects.get(pk=conversation.pk), assignee_id=user.pk
        )


def read(conversation) -> None:
    conversations.conversation_mark_read(conversation=Conversation.objects.get(pk=conversation.pk))


def build(*, update_between: bool = True) -> SimpleNamespace:
    organization = OrganizationFactory(timezone="Europe/Berlin", sla_seconds=3600)
    one = ChannelFactory(organization=organization, name="Alpha")
    two = ChannelFactory(organization=organization, name="Beta")
    alice = MembershipFactory(organization=organization, user=UserFactory(username="alice")).user
    bob = MembershipFactory(organization=organization, user=UserFactory(username="bob")).user

    a = inbound(one, "16505550001", "a1", at(10, 9))
    assign(a, alice, at(10, 9, 5))
    outbound(a, "out-a1", at(10, 9, 30))
    status(a, ConversationStatus.CLOSED, at(10, 10))
    b = inbound(one, "16505550002", "b1", at(10, 22, 30))
    outbound(b, "out-b-auto", at(10, 22, 31), payload={"exempt": "auto_reply"})
    if update_between:
        inbox_rollups_update()  # the reader runs several times along the way
    outbound(b, "out-b1", at(10, 23, 30))
    c = inbound(two, "16505550003", "c1", at(10, 23, 30))
    assign(c, alice, at(10, 23, 35))
    a = inbound(one, "16505550001", "a2", at(11, 8))
    outbound(a, "out-a2", at(11, 10))
    status(a, ConversationStatus.CLOSED, at(11, 11))
    assign(c, bob, at(11, 11, 30))  # reassigned: C's figures move to bob
    read(a)
    read(b)
    return SimpleNamespace(
        organization=organization, one=one, two=two, alice=alice, bob=bob, a=a, b=b, c=c
    )
