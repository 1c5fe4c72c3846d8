"""A responder's bursts: the customer's messages gathered per conversation until they
stop typing, then sent to the responder as one `conversation.burst` event.

The state is here, in PostgreSQL, never in Redis: a worker killed mid-burst leaves the
row collecting (or rolls its emission back), and the next pump emits it.
"""

from django.db import models
from django.utils import timezone


class BurstState(models.TextChoices):
    COLLECTING = "collecting", "Collecting"  # the customer may still be typing
    EMITTED = "emitted", "Emitted"  # recorded as a conversation.burst event
    CANCELLED = "cancelled", "Cancelled"  # an agent took the conversation over


class Burst(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, related_name="+"
    )
    subscription = models.ForeignKey(
        "integrations.Subscription", on_delete=models.CASCADE, related_name="bursts"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    channel_id = models.BigIntegerField()
    state = models.CharField(
        max_length=16, choices=BurstState.choices, default=BurstState.COLLECTING
    )
    message_ids = models.JSONField(default=list)  # in the order they were filed
    # When the messages' events were recorded (commit side, not the provider's clock).
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    # min(last_at + quiet, first_at + max wait): when the pump emits it.
    due_at = models.DateTimeField()
    event_id = models.BigIntegerField(null=True, blank=True)  # its conversation.burst
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # One collecting burst per conversation and responder at a time.
            models.UniqueConstraint(
                fields=["subscription", "conversation"],
                condition=models.Q(state="collecting"),
                name="burst_one_collecting",
            )
        ]
        indexes = [
            models.Index(
                fields=["due_at"], condition=models.Q(state="collecting"), name="burst_due"
            ),
            models.Index(fields=["organization", "created_at"], name="burst_org_created"),
        ]

    def __str__(self) -> str:
        return f"burst {self.pk} of conversation {self.conversation_id} ({self.state})"
