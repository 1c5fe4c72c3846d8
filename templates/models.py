"""WhatsApp message templates, kept as Meta last told us, and what happened to them.

A template belongs to one WhatsApp channel (and, for scoping, its organization). Its
status, quality and category come from Meta: from webhooks as they change, from the
periodic sync, and from Meta's answer when we submit one. Status and category are open
strings, because Meta adds values. A template Meta no longer lists is marked removed,
not deleted, so that its history stays.
"""

from django.db import models

from tenants.models import Channel, Organization


class TemplateCategory(models.TextChoices):
    MARKETING = "MARKETING", "Marketing"
    UTILITY = "UTILITY", "Utility"
    AUTHENTICATION = "AUTHENTICATION", "Authentication"


class ParameterFormat(models.TextChoices):
    NAMED = "NAMED", "Named ({{first_name}})"
    POSITIONAL = "POSITIONAL", "Positional ({{1}})"


class QualityScore(models.TextChoices):
    GREEN = "GREEN", "Green (high)"
    YELLOW = "YELLOW", "Yellow (medium)"
    RED = "RED", "Red (low)"
    UNKNOWN = "UNKNOWN", "Unknown (no data yet)"


class TemplateStatus:
    """The statuses Meta documents (contract A5). Not choices: Meta adds values, and
    whatever it sends is kept as it came."""

    APPROVED = "APPROVED"
    PENDING = "PENDING"
    REJECTED = "REJECTED"
    PAUSED = "PAUSED"
    DISABLED = "DISABLED"
    IN_APPEAL = "IN_APPEAL"
    FLAGGED = "FLAGGED"
    REINSTATED = "REINSTATED"
    PENDING_DELETION = "PENDING_DELETION"
    DELETED = "DELETED"
    ARCHIVED = "ARCHIVED"
    UNARCHIVED = "UNARCHIVED"
    LOCKED = "LOCKED"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"

    KNOWN = (
        *(APPROVED, PENDING, REJECTED, PAUSED, DISABLED, IN_APPEAL, FLAGGED, REINSTATED),
        *(PENDING_DELETION, DELETED, ARCHIVED, UNARCHIVED, LOCKED, LIMIT_EXCEEDED),
    )


class MessageTemplate(models.Model):
    # The foreign keys lean on the composite indexes and constraints below.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="message_templates", db_index=False
    )
    channel = models.ForeignKey(
        Channel, on_delete=models.PROTECT, related_name="message_templates", db_index=False
    )
    provider_template_id = models.CharField(
        "Meta template id",
        max_length=64,
        blank=True,
        help_text="A string: Meta's API sends ids as strings, its webhooks as integers.",
    )
    name = models.CharField(max_length=512)
    language = models.CharField(max_length=32, help_text="Meta's code, e.g. en_US.")
    category = models.CharField(
        max_length=32, blank=True, help_text="MARKETING, UTILITY or AUTHENTICATION."
    )
    components = models.JSONField(default=list, blank=True)
    parameter_format = models.CharField(
        max_length=16, choices=ParameterFormat.choices, default=ParameterFormat.POSITIONAL
    )
    status = models.CharField(
        max_length=32,
        blank=True,
        help_text="As Meta sends it: APPROVED, PENDING, REJECTED, PAUSED, DISABLED... "
        "Only APPROVED templates can be sent. Empty until Meta has told us.",
    )
    quality_score = models.CharField(
        max_length=16, choices=QualityScore.choices, default=QualityScore.UNKNOWN
    )
    rejection_reason = models.CharField(max_length=255, blank=True)
    allow_category_change = models.BooleanField(default=False)
    is_deleted = models.BooleanField(
        "removed", default=False, help_text="Meta no longer lists it (kept for its history)."
    )
    removed_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    # When the status, quality and category we hold were true (Meta's time for webhooks,
    # ours for a sync that changed them): a webhook older than that is not applied over
    # them, so events applied out of order never bring back an older state.
    status_updated_at = models.DateTimeField(null=True, blank=True)
    quality_updated_at = models.DateTimeField(null=True, blank=True)
    category_updated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Meta's own rule: a name is unique per language (in a WABA).
            models.UniqueConstraint(
                fields=["channel", "name", "language"], name="template_unique_name_language"
            ),
            models.UniqueConstraint(
                fields=["channel", "provider_template_id"],
                condition=~models.Q(provider_template_id=""),
                name="template_unique_provider_id",
            ),
        ]
        indexes = [
            # The API's list: an organization's templates, newest first, paged by
            # cursor, and its most used filters. A channel's templates are found
            # through the unique constraints, which lead with the channel.
            models.Index(
                fields=["organization", "-created_at", "-id"], name="template_org_created"
            ),
            models.Index(fields=["organization", "status"], name="template_org_status"),
            models.Index(fields=["organization", "quality_score"], name="template_org_quality"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.language})"

    @property
    def can_send(self) -> bool:
        return self.status == TemplateStatus.APPROVED and not self.is_deleted


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    STATUS = "status", "Status"
    QUALITY = "quality", "Quality"
    CATEGORY = "category", "Category"
    CATEGORY_NOTICE = "category_notice", "Category change notice"
    REMOVED = "removed", "Removed"


class EventSource(models.TextChoices):
    WEBHOOK = "webhook", "Meta webhook"
    SYNC = "sync", "Sync from Meta's API"
    SUBMIT = "submit", "Submitted by us"
    DELETE = "delete", "Deleted by us"


class TemplateEvent(models.Model):
    """One change of a template, from wherever we learnt it. History; never edited."""

    template = models.ForeignKey(MessageTemplate, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    source = models.CharField(max_length=16, choices=EventSource.choices)
    old_value = models.CharField(max_length=64, blank=True)
    new_value = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    details = models.JSONField(default=dict, blank=True)
    # The provider event's stable id (webhooks only), so that a redelivered or replayed
    # webhook is recorded once per template: a WABA's templates are kept by each of its
    # channels, and one webhook changes each. NULL for sync and submit: NULLs never
    # collide.
    event_id = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["template", "event_id"], name="template_event_unique_template_event_id"
            )
        ]
        indexes = [models.Index(fields=["template", "-occurred_at"], name="template_event_recent")]

    def __str__(self) -> str:
        change = f"{self.old_value or '—'} → {self.new_value or '—'}"
        return f"{self.get_kind_display()}: {change}"
