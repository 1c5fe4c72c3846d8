"""What outbound sending keeps besides the messages themselves (conversations.Message):
per-channel limits, the day's send counts, the answers to idempotent requests, and
LinkedIn invitations with the relations that answer them."""

from django.conf import settings
from django.db import models

from conversations.models import Contact
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
        help_text="At most this many messages per UTC day. Empty: the provider's default "
        "(LinkedIn through Unipile 100; no cap for the others).",
    )
    daily_invitation_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="LinkedIn: at most this many invitations per UTC day. Empty: 25.",
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


class DailyInvitationCount(models.Model):
    """Invitations admitted per channel and UTC day, like DailySendCount for messages:
    LinkedIn's invitation cap is its own, apart from the message cap."""

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "day"], name="daily_invitation_count_unique")
        ]

    def __str__(self) -> str:
        return f"{self.channel_id} on {self.day}: {self.count}"


class InvitationState(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    ACCEPTED = "accepted", "Accepted"
    FAILED = "failed", "Failed"


# An invitation that still stands: at most one per contact and channel.
OPEN_STATES = (InvitationState.QUEUED, InvitationState.SENT, InvitationState.ACCEPTED)


class Invitation(models.Model):
    """A LinkedIn invitation to connect, sent through a Unipile channel
    (messaging.invitations). Queued when admitted; the send task resolves the profile
    to a provider id, invites, and records the answer; the `new_relation` webhook or
    the daily relations reconciliation marks it accepted."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="invitations")
    profile = models.CharField(
        max_length=500, blank=True, help_text="The profile URL or identifier as given."
    )
    public_identifier = models.CharField(max_length=255, blank=True)
    provider_id = models.CharField(max_length=255, blank=True)
    note = models.TextField(blank=True)
    state = models.CharField(
        max_length=16, choices=InvitationState.choices, default=InvitationState.QUEUED
    )
    provider_invitation_id = models.CharField(max_length=255, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_title = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # When it counted as accepted: the relation's time (for the webhook, which carries
    # none, when it arrived), never before the invitation was made.
    accepted_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # When a send task took it, so that a redelivered task invites no one twice; a
    # claim older than the lease is a worker that died (messaging.invitations).
    send_claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "contact"],
                condition=models.Q(state__in=OPEN_STATES),
                name="invitation_one_open_per_contact",
            )
        ]
        indexes = [
            # A relation finds the invitations it answers.
            models.Index(
                fields=["channel", "provider_id"],
                condition=models.Q(state__in=["queued", "sent"]),
                name="invitation_waiting_provider",
            ),
            models.Index(
                fields=["channel", "public_identifier"],
                condition=models.Q(state__in=["queued", "sent"]),
                name="invitation_waiting_public",
            ),
            # The sweep: queued ones whose task was lost.
            models.Index(
                fields=["created_at"],
                condition=models.Q(state="queued"),
                name="invitation_queued",
            ),
            models.Index(fields=["organization", "-created_at"], name="invitation_org_recent"),
        ]

    def __str__(self) -> str:
        return f"Invitation to {self.public_identifier or self.provider_id or self.contact_id}"


class Relation(models.Model):
    """A person the channel's LinkedIn account is connected with, as the `new_relation`
    webhook or the relations list told it. Kept whether or not we invited them: an
    acceptance may come before our own invitation record does (the person was already
    connected), and a later invitation to them is then accepted at once, unsent."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="+")
    provider_id = models.CharField(max_length=255, blank=True)
    public_identifier = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=200, blank=True)
    connected_at = models.DateTimeField()
    source = models.CharField(max_length=16)  # "webhook" or "reconciliation"
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "provider_id"],
                condition=~models.Q(provider_id=""),
                name="relation_unique_provider_id",
            ),
            models.UniqueConstraint(
                fields=["channel", "public_identifier"],
                condition=~models.Q(public_identifier=""),
                name="relation_unique_public_identifier",
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.public_identifier or self.provider_id


class DailyRefusalCount(models.Model):
    """Sends the checks refused, per channel, conversation assignee, local day of the
    organization and error code (messaging.refusals). A refused send leaves no message
    and usually rolls its caller's transaction back, so this counter is the only record
    of it; the inbox reports read it."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    # Plain ids: a count outlives the channel and the user it names.
    channel_id = models.BigIntegerField()
    agent_id = models.BigIntegerField(default=0, help_text="The assignee; 0: unassigned.")
    day = models.DateField(help_text="In the organization's timezone when it was refused.")
    code = models.CharField(max_length=32)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "day", "channel_id", "agent_id", "code"],
                name="daily_refusal_count_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} on {self.day}: {self.count}"
