"""What the operators' alerts keep: one row per incident, queue-length samples (a
backlog grows over time, which one reading cannot tell), and each channel's usual quiet
period learned from its history."""

from django.db import models
from django.utils import timezone

from tenants.models import Channel, Organization


class AlertKind(models.TextChoices):
    WEBHOOK_BACKLOG = "webhook_backlog", "Webhooks waiting too long"
    QUEUE_GROWING = "queue_growing", "Task queue backlog growing"
    CHANNEL_QUIET = "channel_quiet", "Channel unusually quiet"


class AlertIncident(models.Model):
    """One incident: opened when its condition starts, resolved when it clears. The
    operators are emailed once when it opens and once when it clears; the
    `*_notified_at` stamps are the record of those emails (a mail server that refused
    one is tried again at the next evaluation)."""

    kind = models.CharField(max_length=32, choices=AlertKind.choices)
    # What it is about: a provider, a queue name, a channel id.
    key = models.CharField(max_length=100)
    summary = models.CharField(max_length=300, help_text="What it was when it opened.")
    # Set for a channel's incident, so its organization's staff see it in the admin.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    channel = models.ForeignKey(
        Channel, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    opened_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # What the condition measured, kept up to date while it lasts.
    details = models.JSONField(default=dict, blank=True)
    opened_notified_at = models.DateTimeField(null=True, blank=True)
    resolved_notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "key"],
                condition=models.Q(resolved_at__isnull=True),
                name="alert_incident_one_open",
            )
        ]
        indexes = [models.Index(fields=["-opened_at"], name="alert_incident_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.key}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class QueueLengthSample(models.Model):
    """A Celery queue's length at one evaluation (every minute); kept an hour."""

    queue = models.CharField(max_length=64)
    length = models.PositiveIntegerField()
    sampled_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["queue", "sampled_at"], name="queue_sample_recent")]

    def __str__(self) -> str:
        return f"{self.queue}: {self.length} at {self.sampled_at:%H:%M}"


class ChannelQuietPeriod(models.Model):
    """How long a channel usually goes without a webhook, learned daily from its last
    days of webhooks (reports.quiet). A channel with too
    few webhooks to tell is not "usually busy": `usual` is false and it is not watched."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="+")
    quiet_seconds = models.PositiveIntegerField()
    webhooks = models.PositiveIntegerField()  # how many the learning saw
    usual = models.BooleanField(default=False)
    computed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.channel_id}: {self.quiet_seconds}s"
