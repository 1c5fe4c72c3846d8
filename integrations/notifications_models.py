"""Reply notifications' tables: who wants the emails, and each conversation's email
in progress (integrations.notifications)."""

from django.conf import settings
from django.db import models


class NotificationSetting(models.Model):
    """A person's own choice. No row: the defaults (reply emails on)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_setting"
    )
    reply_emails = models.BooleanField(
        default=True,
        help_text="Email me when a customer writes in a conversation assigned to me, or in "
        "an unassigned one when I am among those the organization tells.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Notification settings of {self.user}"


class ReplyNotification(models.Model):
    """One per conversation: the customer messages not yet emailed about, and when the
    email may go (at most one per REPLY_EMAIL_INTERVAL). Written by the outbox reader
    in the transaction that moves its cursor; emptied by the sender once the mail went
    out. Holds message ids only: the text is read when the email is written, so an
    erasure or the retention in between leaves nothing of it here."""

    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, related_name="+"
    )
    conversation = models.OneToOneField(
        "conversations.Conversation", on_delete=models.CASCADE, related_name="+"
    )
    # The latest pending messages (at most PENDING_KEPT ids), and how many are pending.
    message_ids = models.JSONField(default=list, blank=True)
    pending_count = models.PositiveIntegerField(default=0)
    # When the pending email may go; null while nothing is pending.
    due_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)
    last_recipients = models.TextField(blank=True)
    sent_count = models.PositiveIntegerField(default=0)
    # Failed sends of the pending email (the mail server), and the last error.
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The sender's claim: pending ones by due time (a small index).
            models.Index(
                fields=["due_at"], condition=models.Q(due_at__isnull=False), name="reply_notif_due"
            )
        ]

    def __str__(self) -> str:
        return f"Reply notification #{self.pk}"
