"""What outbound sending keeps besides the messages themselves (conversations.Message):
per-channel limits, the day's send counts, and the answers to idempotent requests."""

from django.conf import settings
from django.db import models

from tenants.models import Channel, Organization


class SendLimit(models.Model):
    """A channel's own limits; without a row the provider's defaults apply."""

    channel = models.OneToOneField(Channel, on_delete=models.CASCADE, related_name="send_limit")
    per_second = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Messages per second, shared by every worker. Empty: the provider's "
        "default (WhatsApp 80, OpenPhone 10, Twilio 1, Unipile 1).",
    )
    daily_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="At most this many sends per UTC day. Empty: no cap.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "send limit"

    def __str__(self) -> str:
        return f"Limits of {self.channel}"


class DailySendCount(models.Model):
    """Sends admitted per channel and UTC day: the daily cap survives restarts and is
    shared by every process."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "day"], name="daily_send_count_unique")
        ]

    def __str__(self) -> str:
        return f"{self.channel_id} on {self.day}: {self.count}"


class IdempotencyKey(models.Model):
    """The first answer to a request sent with an Idempotency-Key header, so that a
    client retrying it gets the same answer and the message is sent once."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # What the key was used for: method, path and body. The same key for another
    # request is a conflict, not a replay.
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "key"], name="idempotency_key_unique_per_org"
            )
        ]

    def __str__(self) -> str:
        return self.key


class ThroughputPace(models.Model):
    """The embedded default's pacing clock, where there is no Redis to keep it: per
    channel, when its next send may go (GCRA's theoretical arrival time, in µs since the
    epoch). With REDIS_URL set the clock lives in Redis and this table stays empty.

    Keyed by the bare channel id rather than a foreign key: it is a clock, not a
    record, and a row left behind by a deleted channel costs nothing."""

    channel_id = models.BigIntegerField(primary_key=True)
    theoretical_arrival_us = models.BigIntegerField()

    class Meta:
        verbose_name = "throughput pace"

    def __str__(self) -> str:
        return f"Channel {self.channel_id}"


class DoNotContactKind(models.TextChoices):
    PHONE = "phone", "Phone number (E.164)"
    LINKEDIN = "linkedin", "LinkedIn id"


class DoNotContactSource(models.TextChoices):
    ADMIN = "admin", "Admin"
    API = "api", "API"
    IMPORT = "import", "Import"


class DoNotContact(models.Model):
    """A number or LinkedIn id the organization must never send to, whoever the
    contact behind it is (messaging.do_not_contact checks every send against it).

    Phone numbers are kept in E.164; a LinkedIn id is what Unipile names the person by
    (`attendee_provider_id`, kept as the contact's provider_id identity)."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.CASCADE,
        related_name="do_not_contact",
        db_index=False,  # the unique constraint's index starts with it
    )
    kind = models.CharField(max_length=16, choices=DoNotContactKind.choices)
    value = models.CharField(max_length=255)
    note = models.CharField(max_length=500, blank=True, help_text="Why, for the team.")
    source = models.CharField(max_length=16, choices=DoNotContactSource.choices)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "do-not-contact entry"
        verbose_name_plural = "do-not-contact list"
        constraints = [
            # Also the index of the send check: (organization, kind, value IN (...)).
            models.UniqueConstraint(
                fields=["organization", "kind", "value"], name="do_not_contact_unique"
            )
        ]
        indexes = [
            # The list, newest first, paged by cursor.
            models.Index(
                fields=["organization", "-created_at", "-id"], name="do_not_contact_org_created"
            )
        ]

    def __str__(self) -> str:
        return self.value
