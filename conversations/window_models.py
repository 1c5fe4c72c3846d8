"""The windows whose `window.expiring` event is recorded (imported by
conversations.models, so Django finds it there).

One row per (conversation, expiry) announced: its unique key is what makes the
announcement exactly once, however often or concurrently the schedule runs
(`conversations.maintenance.windows_expiring_record` inserts with ON CONFLICT DO
NOTHING and records events only for the rows it inserted). A customer message that
moves the window gives it a new expiry, hence a new row and a new event. Rows are
deleted once their expiry has passed: they can never match again.
"""

from django.db import models
from django.utils import timezone


class WindowExpiringNotice(models.Model):
    # A plain id, like the outbox's: the notice holds no personal data, outlives
    # nothing (gone within the hour) and must not lock the conversation it names.
    conversation_id = models.BigIntegerField()
    window_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["conversation_id", "window_expires_at"], name="window_notice_once"
            )
        ]

    def __str__(self) -> str:
        return f"Conversation #{self.conversation_id} expiring at {self.window_expires_at}"
