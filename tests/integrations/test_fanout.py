"""From the outbox to deliveries: each event once per matching subscription, even when
the worker dies mid-handling; subscriptions start at their creation (or re-enabling)."""

import json

import pytest
from django.db import transaction

from integrations import fanout
from integrations.fanout import deliveries_fan_out
from integrations.models import Delivery
from integrations.subscriptions import subscription_update
from tests.factories import ChannelFactory, OrganizationFactory
from tests.integrations.conftest import record, subscribe

pytestmark = pytest.mark.django_db


def _delivered() -> list[tuple[int, int]]:
    return sorted(Delivery.objects.values_list("subscription_id", "event_id"))


def test_each_event_once_for_every_matching_subscription_even_after_a_crash(receiver, monkeypatch):
    organization = OrganizationFactory()
    first = subscribe(organization, receiver.url)
    second = subscribe(organization, receiver.url + "/2")
    events = [record(organization, conversation_id=n) for n in (1, 2, 3)]

    real = Delivery.objects.bulk_create

    def crash_after_writing(rows, **kwargs):
        real(rows, **kwargs)
        raise RuntimeError("worker killed mid-handling")

    monkeypatch.setattr(Delivery.objects, "bulk_create", crash_after_writing)
    with pytest.raises(RuntimeError), transaction.atomic():
        deliveries_fan_out()
    assert _delivered() == []  # rolled back with the cursor

    monkeypatch.setattr(Delivery.objects, "bulk_create", real)
    assert deliveries_fan_out() == 3
    assert deliveries_fan_out() == 0
    expected = sorted((s.pk, e.pk) for s in (first, second) for e in events)
    assert _delivered() == expected


def test_a_new_subscription_starts_now_and_filters_types_and_channel(receiver):
    organization = OrganizationFactory()
    channel = ChannelFactory(organization=organization)
    before = record(organization, conversation_id=1)
    everything = subscribe(organization, receiver.url)
    one_channel = subscribe(organization, receiver.url + "/c", channel=channel)
    other_type = subscribe(organization, receiver.url + "/t", event_types=["message.received"])
    elsewhere = subscribe(OrganizationFactory(), receiver.url + "/o")
    on_channel = record(organization, conversation_id=1, channel_id=channel.pk)
    off_channel = record(organization, conversation_id=2, channel_id=channel.pk + 1000)

    deliveries_fan_out()

    assert _delivered() == sorted(
        [
            (everything.pk, on_channel.pk),
            (everything.pk, off_channel.pk),
            (one_channel.pk, on_channel.pk),
        ]
    )
    assert before.pk not in {e for _, e in _delivered()}
    assert not Delivery.objects.filter(subscription__in=[other_type, elsewhere]).exists()


def test_a_re_enabled_subscription_skips_what_happened_while_disabled(receiver):
    organization = OrganizationFactory()
    subscription = subscribe(organization, receiver.url)
    subscription_update(subscription=subscription, enabled=False)
    while_off = record(organization, conversation_id=1)
    deliveries_fan_out()
    subscription_update(subscription=subscription, enabled=True)
    after = record(organization, conversation_id=1)
    deliveries_fan_out()
    assert [e for _, e in _delivered()] == [after.pk]
    assert while_off.pk < after.pk


def test_the_body_is_the_documented_envelope(receiver):
    organization = OrganizationFactory()
    subscribe(organization, receiver.url)
    event = record(organization, conversation_id=7, assignee=3)
    deliveries_fan_out()
    delivery = Delivery.objects.get()
    assert json.loads(fanout.event_payload(event)) == json.loads(delivery.payload)
    assert delivery.webhook_id.startswith(f"msg_{event.pk}_")
    assert '"type":"conversation.assigned"' in delivery.payload
    assert '"conversation_id":7' in delivery.payload
