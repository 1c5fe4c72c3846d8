from django.db import models

from providers import PROVIDER_LABELS, Provider
from tenants.models import Channel, Organization


class EventStatus(models.TextChoices):
    RECEIVED = "received", "Received"
    PROCESSING = "processing", "Processing"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Failed"
    DEAD = "dead", "Dead (retries exhausted)"
    DISCARDED = "discarded", "Discarded"
    UNROUTABLE = "unroutable", "Unroutable (no channel)"


# What the sweep may (re)start: not finished, and due by `next_attempt_at`.
PENDING_STATUSES = (EventStatus.RECEIVED, EventStatus.PROCESSING, EventStatus.FAILED)
# What operators work through in the failed-webhook queue.
QUEUE_STATUSES = (EventStatus.FAILED, EventStatus.DEAD, EventStatus.UNROUTABLE)


class WebhookEvent(models.Model):
    """One webhook request as the provider sent it, stored before it is answered.

    The raw body is kept byte for byte: it is what the signature covered and what a
    replay parses again. `next_attempt_at` is the one clock of the retry machinery:
    set on arrival (a lease in case the broker loses the task), while processing (a
    lease in case the worker dies) and after a failure (the backoff); the sweep
    re-enqueues every unfinished event whose time has come.
    """

    provider = models.CharField(
        max_length=32, choices=[(p.value, PROVIDER_LABELS[p]) for p in Provider]
    )
    channel = models.ForeignKey(
        Channel, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_events"
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_events",
        db_index=False,  # webhook_org_recent leads with it
    )
    body = models.BinaryField()
    headers = models.JSONField(default=dict, blank=True)
    url = models.TextField(blank=True, help_text="The URL the provider called.")
    received_at = models.DateTimeField(db_index=True)
    # sha256 of provider, channel and body: a byte-identical redelivery is one row.
    # Unique by constraint (not unique=True) so PostgreSQL gets no second, LIKE-only
    # index on it: every webhook request pays for each index of this table.
    dedupe_key = models.CharField(max_length=64)

    status = models.CharField(
        max_length=16, choices=EventStatus.choices, default=EventStatus.RECEIVED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    # What processing did: counts per outcome ("created": 2, "duplicate": 1, ...).
    result = models.JSONField(default=dict, blank=True)
    # Provider message/template ids in the payload, space-separated, for search.
    refs = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due"),
            models.Index(fields=["organization", "-received_at"], name="webhook_org_recent"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["dedupe_key"], name="webhook_dedupe_key_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} #{self.pk} ({self.status})"

    @property
    def body_bytes(self) -> bytes:
        return bytes(self.body)

    @property
    def body_text(self) -> str:
        return self.body_bytes.decode("utf-8", errors="replace")


class FailedWebhook(WebhookEvent):
    """The failed-webhook queue: what needs an operator (failed, dead, unroutable)."""

    class Meta:
        proxy = True
        verbose_name = "failed webhook"
        # Not "failed-webhook queue": Django counts with it ("2 failed-webhook queue").
        verbose_name_plural = "failed webhooks"
