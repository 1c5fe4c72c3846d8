"""The inbox reports' tables (reports.inbox_rollup maintains them).

`InboxDay` counts per conversation and local day; `ConversationFact` is one row per
episode of a conversation (from its opening, or reopening, to its close) with the
moments its durations are measured between. Channel, agent and conversation are plain
ids: a count outlives what it names. `agent_id` is the conversation's assignee now (0:
unassigned), copied onto its rows and rewritten when it is reassigned.
"""

from django.db import models

from tenants.models import Organization


class InboxDay(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation_id = models.BigIntegerField()
    channel_id = models.BigIntegerField()
    agent_id = models.BigIntegerField(default=0)
    day = models.DateField(help_text="In the organization's timezone.")
    conversations_opened = models.PositiveIntegerField(default=0)
    conversations_closed = models.PositiveIntegerField(default=0)
    messages_in = models.PositiveIntegerField(default=0)
    messages_out = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation_id", "day"], name="inbox_day_unique")
        ]
        indexes = [models.Index(fields=["organization", "day"], name="inbox_day_org_day")]

    def __str__(self) -> str:
        return f"Conversation {self.conversation_id} on {self.day}"


class ConversationFact(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    conversation_id = models.BigIntegerField()
    channel_id = models.BigIntegerField()
    agent_id = models.BigIntegerField(default=0)
    opened_at = models.DateTimeField()
    # The customer's first message of the episode, and the first answer to it that no
    # automation sent (reports.inbox_rollup says which sends are automated).
    first_customer_at = models.DateTimeField(null=True, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["conversation_id", "opened_at"], name="fact_conversation"),
            models.Index(
                fields=["organization", "first_customer_at"],
                condition=models.Q(first_customer_at__isnull=False),
                name="fact_org_customer",
            ),
            models.Index(
                fields=["organization", "closed_at"],
                condition=models.Q(closed_at__isnull=False),
                name="fact_org_closed",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation {self.conversation_id} from {self.opened_at:%Y-%m-%d %H:%M}"
