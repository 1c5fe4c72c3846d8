"""What reconciliation keeps: runs against the providers' APIs, and webhook health
checks (a test message sent, and the webhook that proves it arrived)."""

from django.conf import settings
from django.db import models

from conversations.models import Message
from tenants.models import Channel, Organization


class RunKind(models.TextChoices):
    MESSAGES = "messages", "Messages"
    TEMPLATES = "templates", "Templates"
    INTEGRITY = "integrity", "Daily counts check"
    RELATIONS = "relations", "LinkedIn relations"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class RunTrigger(models.TextChoices):
    SCHEDULE = "schedule", "Schedule"
    ADMIN = "admin", "Admin"
    COMMAND = "command", "Command"
    API = "api", "API"


class ReconciliationRun(models.Model):
    """One pass over a channel's provider API for a time window. A failed run keeps
    its cursor, and running it again resumes there."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=16, choices=RunKind.choices, default=RunKind.MESSAGES)
    window_start = models.DateTimeField()
    window_end = models.DateTimeField()
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=16, choices=RunTrigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    # Where the run is: pages read, participants done... for people (the progress bar).
    progress = models.JSONField(default=dict, blank=True)
    # Where to resume: the provider's page cursor and what is left to list.
    cursor = models.JSONField(default=dict, blank=True)
    # What it found worth reading: the days whose counts differ, the first errors.
    findings = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # While queued or running: when the run counts as abandoned (its task or worker
    # lost). A running run renews it with every page; the sweep acts on expired ones.
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["channel", "-created_at"], name="recon_run_channel_recent"),
            models.Index(
                fields=["lease_expires_at"],
                condition=models.Q(status__in=["queued", "running"]),
                name="recon_run_leased",
            ),
            models.Index(fields=["organization", "-created_at"], name="recon_run_org_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of {self.channel} ({self.status})"


class HealthCheckSetting(models.Model):
    """Opt-in: send a test message through this channel every hour and expect its
    webhook back."""

    channel = models.OneToOneField(
        Channel, on_delete=models.CASCADE, related_name="health_check_setting"
    )
    enabled = models.BooleanField(default=False)
    test_recipient = models.CharField(
        max_length=255,
        help_text="A phone number (E.164) we own that receives the test, or for LinkedIn "
        "the Unipile chat id.",
    )
    template_name = models.CharField(
        max_length=512,
        blank=True,
        help_text="WhatsApp: an approved template to send (a test recipient's window is "
        "rarely open). Empty: a text message.",
    )
    template_language = models.CharField(max_length=32, blank=True, default="en_US")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Health check of {self.channel}"


class HealthCheckResult(models.TextChoices):
    PENDING = "pending", "Waiting for the webhook"
    CONFIRMED = "confirmed", "Webhook arrived"
    TIMED_OUT = "timed_out", "No webhook in time"
    SEND_FAILED = "send_failed", "Could not send"


class WebhookHealthCheck(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    result = models.CharField(
        max_length=16, choices=HealthCheckResult.choices, default=HealthCheckResult.PENDING
    )
    error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["channel", "-sent_at"], name="health_check_channel_recent"),
            models.Index(
                fields=["sent_at"],
                condition=models.Q(result="pending"),
                name="health_check_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.channel} at {self.sent_at:%Y-%m-%d %H:%M}: {self.result}"
