"""Forgetting a contact deletes every outbox event that names them: those of their
conversations, and those whose body carries their contact_id (a campaign lead's events
before any message, consent changes...), whatever the type, new types included."""

import dataclasses
import types
import typing
from datetime import UTC, datetime

import pytest

from conversations.erasure import contact_erase
from outbox.models import OutboxEvent
from outbox.services import event_record
from outbox.types import EVENT_TYPES, EventType
from tests.factories import ContactFactory, ConversationFactory

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_SAMPLE = {int: 1, str: "x", bool: False, datetime: T0}


def _body(event_type: EventType, **fields):
    """A body of the type with plain values, `fields` overriding them."""
    hints = typing.get_type_hints(event_type.body)
    values = {}
    for field in dataclasses.fields(event_type.body):
        hint = hints[field.name]
        if typing.get_origin(hint) is list:  # a list of parts (a burst's messages)
            values[field.name] = []
        else:
            values[field.name] = None if isinstance(hint, types.UnionType) else _SAMPLE[hint]
    return event_type.body(**{**values, **fields})


def _naming_a_contact() -> list[EventType]:
    return [
        t
        for t in EVENT_TYPES.values()
        if "contact_id" in {f.name for f in dataclasses.fields(t.body)}
    ]


def test_the_bodies_that_name_a_contact_include_the_new_ones():
    assert {t.name for t in _naming_a_contact()} >= {
        "message.reaction",
        "window.expiring",
        "campaign.enrollment.replied",
        "campaign.enrollment.completed",
    }


def test_erasure_deletes_every_event_naming_the_contact_and_keeps_the_others(organization):
    forgotten = ContactFactory(organization=organization)
    kept = ContactFactory(organization=organization)
    conversation = ConversationFactory(organization=organization, contact=forgotten)
    for contact in (forgotten, kept):
        for event_type in _naming_a_contact():
            event_record(  # in no conversation: found by the body's contact_id alone
                type=event_type.name,
                organization_id=organization.pk,
                body=_body(event_type, contact_id=contact.pk),
            )
    for event_type in EVENT_TYPES.values():  # the contact's conversation: any type at all
        event_record(
            type=event_type.name,
            organization_id=organization.pk,
            conversation_id=conversation.pk,
            body=_body(event_type),
        )

    contact_erase(organization=organization, contact_id=forgotten.pk)

    left = OutboxEvent.objects.all()
    assert {(e.type, e.body["contact_id"]) for e in left} == {
        (t.name, kept.pk) for t in _naming_a_contact()
    }
