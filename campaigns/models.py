"""Campaigns: a channel's outreach that runs by itself, in the campaign's calendar.

A campaign has ordered steps; each contact enrolled in it walks them one at a time.
Everything the scheduler needs to resume after a crash is here: the enrollment's next
step and when it is due (a claim pushes `next_run_at` forward by a lease, so a lost
task makes it due again), and one execution row per (enrollment, step position),
inserted in the same transaction as the send service's queued message: a step is sent
at most once, whoever runs it and however often.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q

from conversations.models import Contact, Conversation, Message
from tenants.models import Channel, Organization, validate_timezone


def _weekdays() -> list[int]:
    return [0, 1, 2, 3, 4]  # Monday..Friday (Python's weekday numbers)


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class Campaign(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="campaigns"
    )
    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="campaigns")
    name = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Gets an email when a lead replies.",
    )
    status = models.CharField(
        max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.DRAFT
    )
    timezone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_timezone],
        help_text="Sending hours and working days are counted here. Empty: the "
        "organization's time zone.",
    )
    send_start = models.TimeField(default=dt.time(9, 0), help_text="Sending hours start.")
    send_end = models.TimeField(default=dt.time(17, 0), help_text="Sending hours end.")
    send_days = models.JSONField(
        default=_weekdays,
        help_text="Sending days, 0 = Monday .. 6 = Sunday. Default Monday to Friday.",
    )
    starts_at = models.DateTimeField(
        null=True, blank=True, help_text="Nothing is sent before this. Empty: when started."
    )
    daily_message_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="At most this many messages per day (campaign time zone), on top of the "
        "channel's own cap. Empty: only the channel's.",
    )
    daily_invitation_cap = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="At most this many LinkedIn invitations per day, on top of the channel's.",
    )
    # Set when a daily cap (the campaign's or the channel's) is reached: no step of this
    # campaign is claimed before it (the next day's sending start, campaign time zone).
    capped_until = models.DateTimeField(null=True, blank=True)
    capped_reason = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # The scheduler's first question: which campaigns are running.
            models.Index(
                fields=["status"],
                condition=Q(status__in=["running", "scheduled"]),
                name="campaign_live",
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def zone_name(self) -> str:
        return self.timezone or self.organization.timezone


class StepKind(models.TextChoices):
    WHATSAPP_TEMPLATE = "whatsapp_template", "Send a WhatsApp template"
    TEXT = "text", "Send text (SMS, LinkedIn; WhatsApp only inside the window)"
    LINKEDIN_INVITATION = "linkedin_invitation", "Send a LinkedIn invitation"
    WAIT_FOR_ACCEPTANCE = "wait_for_acceptance", "Wait for the invitation to be accepted"


class DelayUnit(models.TextChoices):
    WORKING_DAYS = "working_days", "Working days"
    HOURS = "hours", "Sending hours"
    MINUTES = "minutes", "Sending minutes"


class Step(models.Model):
    """One step of a campaign. Read when it is run, never copied into enrollments:
    an edit applies to every enrollment that has not reached it yet."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveIntegerField(help_text="Steps run in this order.")
    kind = models.CharField(max_length=32, choices=StepKind.choices)
    delay_amount = models.PositiveIntegerField(
        default=0, help_text="How long after the previous step (or the start)."
    )
    delay_unit = models.CharField(
        max_length=16, choices=DelayUnit.choices, default=DelayUnit.WORKING_DAYS
    )
    # whatsapp_template
    template_name = models.CharField(max_length=512, blank=True)
    template_language = models.CharField(max_length=16, blank=True)
    template_parameters = models.JSONField(
        default=dict,
        blank=True,
        help_text="The send service's parameters, each value personalized, e.g. "
        '{"body": {"1": "{{first_name|there}}", "2": "{{company}}"}}.',
    )
    # text
    text = models.TextField(blank=True, help_text="Personalized: {{first_name|there}}.")
    # linkedin_invitation
    note = models.CharField(
        max_length=300, blank=True, help_text="Optional invitation note (personalized)."
    )
    # wait_for_acceptance: how long to wait before giving up on the invitation
    timeout_amount = models.PositiveIntegerField(default=0)
    timeout_unit = models.CharField(
        max_length=16, choices=DelayUnit.choices, default=DelayUnit.WORKING_DAYS
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["campaign", "position"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "position"], name="step_unique_position")
        ]

    def __str__(self) -> str:
        return f"{self.position}. {self.get_kind_display()}"


class EnrollmentState(models.TextChoices):
    PENDING = "pending", "Pending (campaign not started)"
    ACTIVE = "active", "Active"
    WAITING = "waiting", "Waiting (window, acceptance)"
    REPLIED = "replied", "Replied"
    ACCEPTED = "accepted", "Accepted"
    COMPLETED = "completed", "Completed"
    OPTED_OUT = "opted_out", "Opted out"
    FAILED = "failed", "Failed"
    STOPPED = "stopped", "Stopped"


# The states in which an enrollment still has steps to run (the scheduler's states).
LIVE_STATES = (EnrollmentState.PENDING, EnrollmentState.ACTIVE, EnrollmentState.WAITING)
DUE_STATES = (EnrollmentState.ACTIVE, EnrollmentState.WAITING)


class Enrollment(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="enrollments")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    # Found or created at its first send (the contact's conversation on the channel).
    conversation = models.ForeignKey(
        Conversation, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    state = models.CharField(
        max_length=16, choices=EnrollmentState.choices, default=EnrollmentState.PENDING
    )
    # The next step to run: the first step whose position is at least this.
    current_position = models.PositiveIntegerField(default=0)
    next_run_at = models.DateTimeField(null=True, blank=True)
    # What the lead brought (first_name, company, custom fields): the only data its
    # messages are rendered from.
    fields = models.JSONField(default=dict, blank=True)
    # waiting: for what ("window", "acceptance") and until when before giving up.
    wait_reason = models.CharField(max_length=32, blank=True)
    wait_until = models.DateTimeField(null=True, blank=True)
    stop_reason = models.CharField(max_length=64, blank=True)
    stop_detail = models.CharField(max_length=500, blank=True)
    # The claim: which scheduler run holds it, since when. Its lease is `next_run_at`,
    # pushed forward by the claim: if the run is lost, the step is due again then.
    claim_token = models.CharField(max_length=32, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    replied_at = models.DateTimeField(null=True, blank=True)
    # The owner's email about the reply went out (retried by the tick until it does).
    reply_notified_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "contact"], name="enrollment_unique_contact"
            )
        ]
        indexes = [
            # The claim: a running campaign's due enrollments, earliest first.
            models.Index(
                fields=["campaign", "next_run_at"],
                condition=Q(state__in=["active", "waiting"]),
                name="enrollment_due",
            ),
            # Reply detection: the live enrollments of a contact.
            models.Index(
                fields=["contact"],
                condition=Q(state__in=["pending", "active", "waiting"]),
                name="enrollment_live_contact",
            ),
            # Replies whose owner email has not gone out yet.
            models.Index(
                fields=["replied_at"],
                condition=Q(state="replied", reply_notified_at__isnull=True),
                name="enrollment_reply_unnotified",
            ),
            models.Index(fields=["campaign", "state"], name="enrollment_campaign_state"),
        ]

    def __str__(self) -> str:
        return f"{self.contact} in {self.campaign}"


class StepOutcome(models.TextChoices):
    QUEUED = "queued", "Queued for sending"
    SENT = "sent", "Sent"
    DEFERRED = "deferred", "Deferred (not now)"
    SKIPPED = "skipped", "Skipped"
    ACCEPTED = "accepted", "Accepted"
    TIMED_OUT = "timed_out", "Timed out"
    REFUSED = "refused", "Refused (never)"
    FAILED = "failed", "Failed"


class EnrollmentStep(models.Model):
    """The history of an enrollment: each step run, deferral and refusal.

    The row with `execution=True` is the step's idempotency key: unique per
    (enrollment, position), inserted in the send's own transaction.
    """

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="history")
    step = models.ForeignKey(Step, on_delete=models.SET_NULL, null=True, blank=True)
    position = models.PositiveIntegerField()
    execution = models.BooleanField(default=False)
    at = models.DateTimeField()
    message = models.ForeignKey(
        Message, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    outcome = models.CharField(max_length=16, choices=StepOutcome.choices)
    detail = models.CharField(max_length=500, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["enrollment", "position"],
                condition=Q(execution=True),
                name="enrollment_step_once",
            )
        ]
        indexes = [models.Index(fields=["enrollment", "at"], name="enrollment_step_timeline")]

    def __str__(self) -> str:
        return f"Step {self.position} of {self.enrollment_id}: {self.outcome}"


class CampaignDailyCount(models.Model):
    """Actions a campaign took per day (in its time zone) and kind: its own caps,
    shared by every worker and kept across restarts."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    kind = models.CharField(max_length=16)  # "message" or "invitation"
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "day", "kind"], name="campaign_daily_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.kind} on {self.day}: {self.count}"


class ReplyCursor(models.Model):
    """How far the reply pass (campaigns.replies.replies_detect) has read the messages
    table: one row. Every inbound message with a higher id is looked at again by the
    next pass; the row moves only past messages filed long enough ago that no
    transaction still writing could commit one below it (replies.REPLY_RESCAN)."""

    message_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"Replies read up to message {self.message_id}"
