"""Event subscriptions (outbound webhooks) and their deliveries.

A subscription is an organization's receiver: a URL, the event types it wants, an
optional channel, and a signing secret (encrypted at rest; during a rotation the
previous one stays valid, and signs too, until `previous_secret_expires_at`).

A delivery is one event for one subscription: created by the fan-out from the outbox
(integrations.fanout), sent by the DB-driven queue (integrations.sending). Its state is
here, never in Redis: a claimed delivery holds a lease; a worker that dies leaves it to
be claimed again when the lease runs out.
"""

from django.db import models
from django.utils import timezone

from tenants.fields import EncryptedTextField


class Subscription(models.Model):
    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, related_name="subscriptions"
    )
    name = models.CharField(max_length=200, blank=True)
    url = models.URLField(max_length=2000)
    event_types = models.JSONField(default=list)  # outbox.types names
    # Only this channel's events (and events of no channel are not sent); null: all.
    channel = models.ForeignKey(
        "tenants.Channel", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    secret = EncryptedTextField()
    previous_secret = EncryptedTextField(blank=True, default="")
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    # The channel's automated responder (a bot): its customers' messages reach it as
    # coalesced `conversation.burst` events (integrations.bots). Needs `channel`; one
    # enabled responder per channel.
    responder = models.BooleanField(default=False)
    # A burst is sent once the customer has been quiet this long, or this long after
    # its first message at most (a customer who never stops typing still gets an answer).
    burst_quiet_seconds = models.PositiveSmallIntegerField(default=3)
    burst_max_wait_seconds = models.PositiveSmallIntegerField(default=20)
    disabled_reason = models.CharField(max_length=300, blank=True)
    # Events after this outbox position are delivered (set when created or re-enabled).
    start_xid = models.BigIntegerField(default=0)
    start_event_id = models.BigIntegerField(default=0)
    # Since when every attempt failed (null after any success); 5 days of it disable.
    failing_since = models.DateTimeField(null=True, blank=True)
    # When the "deliveries are dead" alert went out for the current failing spell.
    dead_alerted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["organization", "enabled"], name="subscription_org")]
        constraints = [
            models.UniqueConstraint(
                fields=["channel"],
                condition=models.Q(responder=True, enabled=True),
                name="subscription_one_responder_per_channel",
            ),
            models.CheckConstraint(
                condition=models.Q(responder=False) | models.Q(channel__isnull=False),
                name="subscription_responder_has_channel",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    burst_quiet_seconds__gte=1,
                    burst_quiet_seconds__lte=models.F("burst_max_wait_seconds"),
                    burst_max_wait_seconds__lte=300,
                ),
                name="subscription_burst_bounds",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # waiting for its first attempt or a retry
    SENDING = "sending", "Sending"  # claimed by a worker (until claimed_until)
    SUCCEEDED = "succeeded", "Succeeded"
    DEAD = "dead", "Dead"  # every attempt failed


class Delivery(models.Model):
    id = models.BigAutoField(primary_key=True)
    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, related_name="+"
    )
    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    # The outbox event (a plain id: the outbox is purged sooner); null for a test event.
    event_id = models.BigIntegerField(null=True, blank=True)
    event_type = models.CharField(max_length=64)
    conversation_id = models.BigIntegerField(null=True, blank=True)
    channel_id = models.BigIntegerField(null=True, blank=True)
    webhook_id = models.CharField(max_length=64)  # the webhook-id header, per receiver
    payload = models.TextField()  # the exact JSON body signed and sent
    status = models.CharField(
        max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claim_token = models.CharField(max_length=32, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    request_headers = models.JSONField(default=dict, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "webhook_id"], name="delivery_unique_webhook_id"
            )
        ]
        indexes = [
            # The queue: what is due.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="delivery_due",
            ),
            # A conversation's earlier deliveries still unfinished (the ordering rule).
            models.Index(
                fields=["subscription", "conversation_id", "event_id"],
                condition=models.Q(status__in=["pending", "sending"]),
                name="delivery_unfinished_order",
            ),
            models.Index(fields=["subscription", "created_at"], name="delivery_sub_created"),
            models.Index(fields=["organization", "created_at"], name="delivery_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} -> {self.subscription_id} ({self.status})"
