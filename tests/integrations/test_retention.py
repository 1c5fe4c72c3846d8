"""What integrations keep about people is forgotten: an erased contact's deliveries
(pending ones included), and finished deliveries and bursts after the retention."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from conversations.erasure import ErasureSubject, erasure_steps
from integrations.bot_models import Burst, BurstState
from integrations.retention import deliveries_erase, integrations_purge
from integrations.subscription_models import Delivery, DeliveryStatus
from tests.factories import ConversationFactory, OrganizationFactory
from tests.integrations.conftest import subscribe

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
_ids = iter(range(1, 10_000))


def _delivery(subscription, *, conversation=None, body=None, status="succeeded", at=NOW):
    number = next(_ids)
    return Delivery.objects.create(
        organization=subscription.organization,
        subscription=subscription,
        event_id=number,
        event_type="contact.opted_out" if conversation is None else "message.received",
        conversation_id=conversation.pk if conversation else None,
        webhook_id=f"msg_{number}",
        payload=json.dumps({"id": number, "body": body or {}}),
        status=status,
        created_at=at,
    )


def test_erasing_a_contact_deletes_their_deliveries_and_keeps_the_others():
    organization = OrganizationFactory()
    subscription = subscribe(organization, "https://crm.example/hook")
    theirs = ConversationFactory(organization=organization)
    others = ConversationFactory(organization=organization)
    contact_id = theirs.contact_id
    _delivery(subscription, conversation=theirs)
    _delivery(subscription, conversation=theirs, status="pending")  # must not go out
    _delivery(subscription, body={"contact_id": contact_id})  # their consent change
    kept = [
        _delivery(subscription, conversation=others),
        _delivery(subscription, body={"contact_id": others.contact_id}),
    ]
    subject = ErasureSubject(
        erasure_id=1,
        organization_id=organization.pk,
        contact_id=contact_id,
        requested_at=NOW,
        needles=(),
    )

    assert "deliveries" in erasure_steps()
    assert deliveries_erase(subject) == 3
    assert deliveries_erase(subject) == 0  # a step may run again
    assert set(Delivery.objects.values_list("pk", flat=True)) == {d.pk for d in kept}


def test_the_purge_forgets_finished_deliveries_and_bursts_after_the_retention():
    organization = OrganizationFactory(outbox_retention_days=7)
    subscription = subscribe(organization, "https://crm.example/hook")
    conversation = ConversationFactory(organization=organization)
    old = NOW - timedelta(days=8)
    gone = [
        _delivery(subscription, status=DeliveryStatus.SUCCEEDED, at=old),
        _delivery(subscription, status=DeliveryStatus.DEAD, at=old),
    ]
    still_retrying = _delivery(subscription, status=DeliveryStatus.PENDING, at=old)
    recent = _delivery(subscription, at=NOW - timedelta(days=6))

    def burst(state, at):
        return Burst.objects.create(
            organization=organization,
            subscription=subscription,
            conversation=conversation,
            channel_id=conversation.channel_id,
            state=state,
            first_at=at,
            last_at=at,
            due_at=at,
            created_at=at,
        )

    burst(BurstState.EMITTED, old)
    collecting = burst(BurstState.COLLECTING, old)

    assert integrations_purge(now=NOW, batch_size=1) == len(gone) + 1
    assert set(Delivery.objects.values_list("pk", flat=True)) == {still_retrying.pk, recent.pk}
    assert list(Burst.objects.values_list("pk", flat=True)) == [collecting.pk]
