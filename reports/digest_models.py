"""The weekly digest's tables (reports.digest): when each organization's goes, to
whom, and what was sent.

A digest reports one week, Monday to Sunday in the organization's timezone, against
the week before; it goes out once that week is over and the organization's chosen
weekday and hour have come. `DigestSend` (one per organization and week, unique) and
`DigestDelivery` (one per address, unique) are the durable record that keeps a
crashed or doubled run from sending anyone the same week twice.
"""

from django.db import models
from django.db.models.functions import Lower

WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


class DigestSchedule(models.Model):
    """An organization's choices. No row: Mondays at 08:00, to its admins."""

    organization = models.OneToOneField(
        "tenants.Organization", on_delete=models.CASCADE, related_name="digest_schedule"
    )
    enabled = models.BooleanField(default=True, help_text="Send the weekly digest.")
    weekday = models.PositiveSmallIntegerField(
        choices=WEEKDAYS, default=0, help_text="The day it goes, in the organization's timezone."
    )
    hour = models.PositiveSmallIntegerField(
        default=8,
        choices=[(hour, f"{hour:02d}:00") for hour in range(24)],
        help_text="The hour it goes (it leaves within the hour after).",
    )
    to_admins = models.BooleanField(
        default=True,
        help_text="Send it to the organization's admins, besides the addresses listed below.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "weekly digest"

    def __str__(self) -> str:
        return f"Weekly digest of {self.organization}"


class DigestRecipient(models.Model):
    """An address that receives the organization's digest, or chose not to.

    Added by staff (`from_admins` off), or recorded for an admin the first time their
    digest goes (`from_admins` on), so that their unsubscribe is kept too."""

    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, related_name="digest_recipients"
    )
    email = models.EmailField()
    from_admins = models.BooleanField(
        default=False,
        editable=False,
        help_text="Recorded because this address is an admin's, not added by hand.",
    )
    unsubscribed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When they unsubscribed with the link in a digest. Clear it only if "
        "they asked to receive it again.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["email"]
        constraints = [
            models.UniqueConstraint(
                "organization", Lower("email"), name="digest_recipient_unique_email"
            )
        ]

    def __str__(self) -> str:
        return self.email


class DigestSend(models.Model):
    """One organization's digest of one week: created before any email goes."""

    organization = models.ForeignKey(
        "tenants.Organization", on_delete=models.CASCADE, related_name="digest_sends"
    )
    week_start = models.DateField(help_text="The Monday of the week it reports.")
    # The figures as sent, so that every recipient (and a later retry) gets the same.
    figures = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(
        null=True, blank=True, help_text="When every recipient's email went (or gave up)."
    )

    class Meta:
        ordering = ["-week_start", "organization_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "week_start"], name="digest_send_unique_week"
            )
        ]

    def __str__(self) -> str:
        return f"Digest of {self.organization}, week of {self.week_start}"


class DeliveryStatus(models.TextChoices):
    # Claimed, and the email handed to the mail server or about to be: a run that died
    # here may have sent it, so it is never sent again.
    SENDING = "sending", "Sending (or sent: the worker stopped before recording it)"
    SENT = "sent", "Sent"
    FAILED = "failed", "Refused by the mail server: retried next hour"
    GAVE_UP = "gave_up", "Refused too many times"


class DigestDelivery(models.Model):
    send = models.ForeignKey(DigestSend, on_delete=models.CASCADE, related_name="deliveries")
    email = models.EmailField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "digest deliveries"
        constraints = [
            models.UniqueConstraint("send", Lower("email"), name="digest_delivery_unique_email")
        ]

    def __str__(self) -> str:
        return f"{self.email}: {self.get_status_display()}"
