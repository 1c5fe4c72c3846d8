"""The outbox: one row per thing that happened, in the order it was recorded.

Rows are written by the service that makes the change, inside its transaction
(outbox.services), so an event exists exactly when its change was committed. Readers
(deliveries, the stream, reports) remember the last id they read. Rows are never
updated; the daily purge deletes those older than their organization's
`outbox_retention_days`.
"""

from django.db import models
from django.utils import timezone


class OutboxEvent(models.Model):
    # The stream position: assigned from a sequence, in insertion order.
    id = models.BigAutoField(primary_key=True)
    type = models.CharField(max_length=64)  # "message.received" (outbox.types)
    version = models.PositiveSmallIntegerField()  # the body's schema version
    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, related_name="+"
    )
    # Plain ids, not foreign keys: an event outlives what it names (a channel removed,
    # a contact erased) and deleting those never touches, or waits for, the outbox.
    # (The outbox also sits below conversations in the import order.)
    channel_id = models.BigIntegerField(null=True, blank=True)
    conversation_id = models.BigIntegerField(null=True, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    body = models.JSONField()

    class Meta:
        indexes = [
            # An organization's events after a cursor (the stream, subscriptions).
            models.Index(fields=["organization", "id"], name="outbox_org_id"),
            # One conversation's events in order (per-conversation delivery order).
            models.Index(
                fields=["conversation_id", "id"],
                condition=models.Q(conversation_id__isnull=False),
                name="outbox_conversation_id",
            ),
            # The purge.
            models.Index(fields=["created_at"], name="outbox_created"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.type}"


class OutboxCursor(models.Model):
    """How far one reader (a subscription fan-out, the notifications) has read the
    outbox, as an outbox.readers.Position. Moved in the transaction that handles the
    events it passes, so each event is handled once."""

    name = models.CharField(max_length=100, unique=True)
    xid = models.BigIntegerField(default=0)
    event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} at event {self.event_id}"
