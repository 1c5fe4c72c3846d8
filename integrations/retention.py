"""What integrations keep about people, forgotten: an erased contact's deliveries (their
payloads quote the messages), and every organization's finished deliveries and bursts
after its outbox retention (the payloads are copies of outbox events, so they are kept
no longer than the events themselves).

A pending delivery of an erased contact is deleted too: it must not go out after the
erasure. Bursts hold message ids only (their text is read when they are emitted).
"""

import json
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils import timezone

from conversations.erasure import ErasureSubject
from conversations.models import Conversation
from integrations.bot_models import Burst, BurstState
from integrations.subscription_models import Delivery, DeliveryStatus
from tenants.models import Organization

PURGE_BATCH_SIZE = 5_000


def deliveries_erase(subject: ErasureSubject) -> int:
    """The contact's deliveries: those of their conversations, and those of events
    about them outside any conversation (their consent changes)."""
    scoped = Delivery.objects.filter(organization_id=subject.organization_id)
    conversations = Conversation.objects.filter(contact_id=subject.contact_id).values("pk")
    deleted = scoped.filter(conversation_id__in=conversations).delete()[0]
    loose = scoped.filter(conversation_id=None, event_id__isnull=False).only("pk", "payload")
    naming = [d.pk for d in loose.iterator(chunk_size=1000) if _names(d, subject.contact_id)]
    return deleted + Delivery.objects.filter(pk__in=naming).delete()[0]


def _names(delivery: Delivery, contact_id: int) -> bool:
    try:
        body = json.loads(delivery.payload).get("body") or {}
    except (ValueError, AttributeError):
        return False
    return isinstance(body, dict) and body.get("contact_id") == contact_id


def integrations_purge(*, now: datetime | None = None, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete finished deliveries and bursts older than each organization's outbox
    retention (or its message retention, when shorter), in short autocommitted batches.
    Unfinished ones stay: a delivery still retrying is the queue, not history."""
    now = now or timezone.now()
    deleted = 0
    retention = Organization.objects.values_list(
        "pk", "outbox_retention_days", "message_retention_days"
    ).order_by("pk")
    finished_deliveries = Q(status__in=[DeliveryStatus.SUCCEEDED, DeliveryStatus.DEAD])
    finished_bursts = Q(state__in=[BurstState.EMITTED, BurstState.CANCELLED])
    for organization_id, days, message_days in retention:
        cutoff = now - timedelta(days=min(days, message_days or days))
        for model, finished in ((Delivery, finished_deliveries), (Burst, finished_bursts)):
            old = model.objects.filter(
                finished, organization_id=organization_id, created_at__lt=cutoff
            )
            while ids := list(old.order_by("created_at").values_list("pk", flat=True)[:batch_size]):
                deleted += model.objects.filter(pk__in=ids).delete()[0]
    return deleted
