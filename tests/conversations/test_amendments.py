"""Reactions, edits and revokes applied in batches: the same few queries whatever the
batch holds, and the same record whatever order the events come in."""

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conversations.batch import Inbound, events_apply
from conversations.models import Message, MessageReaction
from providers import Provider
from providers.events import (
    ChangeKind,
    ContactRef,
    InboundMessage,
    MessageChanged,
    MessageType,
)
from providers.events import (
    MessageReaction as Reaction,
)
from tests.factories import OrganizationFactory
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CUSTOMER = ContactRef(phone="+16505551234", wa_id="16505551234")
_ids = itertools.count()


def _common(at: datetime) -> dict:
    return {
        "provider": Provider.WHATSAPP_CLOUD,
        "event_id": f"test:{next(_ids)}",
        "occurred_at": at,
        "raw": {},
        "contact": CUSTOMER,
    }


def _text(message_id: str, at: datetime) -> InboundMessage:
    return InboundMessage(**_common(at), message_id=message_id, type=MessageType.TEXT, text="hi")


def _reaction(message_id: str, emoji: str, at: datetime) -> Reaction:
    return Reaction(**_common(at), message_id=message_id, reactor="16505551234", emoji=emoji)


def _edit(message_id: str, text: str, at: datetime) -> MessageChanged:
    return MessageChanged(**_common(at), message_id=message_id, kind=ChangeKind.EDITED, text=text)


@pytest.fixture
def channel():
    return make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)


def _queries_for(channel, size: int, prefix: str) -> int:
    events = [
        *(_text(f"{prefix}{n}", T0 + timedelta(seconds=n)) for n in range(size)),
        *(_reaction(f"{prefix}{n}", "👍", T0 + timedelta(minutes=1)) for n in range(size)),
        *(_edit(f"{prefix}{n}", "edited", T0 + timedelta(minutes=2)) for n in range(size)),
        # reactions and edits of messages not filed yet wait for them
        *(_reaction(f"{prefix}later{n}", "👍", T0) for n in range(size)),
        *(_edit(f"{prefix}later{n}", "edited", T0) for n in range(size)),
    ]
    with CaptureQueriesContext(connection) as queries:
        events_apply(inbound=[Inbound(channel, event) for event in events], statuses=[])
    return len(queries)


def test_reactions_and_edits_cost_the_same_queries_for_3_or_30_messages(channel):
    _queries_for(channel, 1, "warm")  # the contact and conversation exist from here on

    small, large = _queries_for(channel, 3, "s"), _queries_for(channel, 30, "l")

    assert small == large
    assert MessageReaction.objects.count() == 1 + 3 + 30 + (1 + 3 + 30)
    assert Message.objects.filter(text="edited").count() == 1 + 3 + 30


def test_reactions_end_the_same_in_any_order(channel):
    events = [
        _text("m", T0),
        _reaction("m", "😮", T0 + timedelta(seconds=10)),
        _reaction("m", "👍", T0 + timedelta(seconds=20)),
        _reaction("m", "", T0 + timedelta(seconds=30)),
        _reaction("m", "❤️", T0 + timedelta(seconds=40)),
    ]
    results = set()
    for order in itertools.permutations(events[1:]):
        MessageReaction.objects.all().delete()
        for event in [events[0], *order]:
            events_apply(inbound=[Inbound(channel, event)], statuses=[])
        results.add(tuple(MessageReaction.objects.values_list("emoji", "reacted_at")))

    assert results == {(("❤️", T0 + timedelta(seconds=40)),)}


def test_edits_end_the_same_in_any_order(channel):
    edits = [_edit("m", f"edit {n}", T0 + timedelta(minutes=n)) for n in (1, 2, 3)]
    texts = set()
    for n, order in enumerate(itertools.permutations(edits)):
        message = _text(f"m{n}", T0)
        for event in [message, *order]:
            event = event if event is message else _renamed(event, f"m{n}")
            events_apply(inbound=[Inbound(channel, event)], statuses=[])
        texts.add(
            tuple(r["text"] for r in Message.objects.get(provider_message_id=f"m{n}").revisions)
        )

    assert texts == {("hi", "edit 1", "edit 2", "edit 3")}


def _renamed(edit: MessageChanged, message_id: str) -> MessageChanged:
    return MessageChanged(
        **{**_common(edit.occurred_at), "event_id": f"{edit.event_id}:{message_id}"},
        message_id=message_id,
        kind=edit.kind,
        text=edit.text,
    )
