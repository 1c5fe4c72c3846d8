"""The campaign reports' rollups (issue 17): one row per campaign, local day and step,
and the facts that keep them exact.

`CampaignDayRollup` is what the reports read. The two fact tables are how the
incremental pass counts each thing once: a fact is inserted once (its key is the row it
stands for), and the rollups move only when a fact is inserted or changes (a step's
message delivered, a lead's reply). Requests never read the step facts.
"""

from django.db import models

from campaigns.models import Campaign
from tenants.models import Organization

# The rollup position of what belongs to the lead, not to a step (enrolled, opted out,
# a reply before any step was sent).
LEAD_POSITION = -1

FIGURES = (
    "enrolled",
    "contacted",
    "sent",
    "delivered",
    "read",
    "accepted",
    "replied",
    "opted_out",
    "failed",
)


class CampaignDayRollup(models.Model):
    """What happened in a campaign on one day of its organization's calendar, per step
    (`position`; LEAD_POSITION for the lead's own figures)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    position = models.IntegerField()
    enrolled = models.IntegerField(default=0)
    # Leads whose first step was sent that day: the reply rate's denominator.
    contacted = models.IntegerField(default=0)
    sent = models.IntegerField(default=0)
    # Of the messages sent that day: how many are delivered, read, failed now.
    delivered = models.IntegerField(default=0)
    read = models.IntegerField(default=0)
    accepted = models.IntegerField(default=0)
    replied = models.IntegerField(default=0)
    opted_out = models.IntegerField(default=0)
    failed = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", "day", "position"], name="campaign_day_rollup_unique"
            )
        ]
        indexes = [models.Index(fields=["organization", "day"], name="campaign_day_rollup_org")]

    def __str__(self) -> str:
        return f"{self.campaign_id} step {self.position} on {self.day}"


class StepFactKind(models.TextChoices):
    SENT = "sent"  # an execution row: the step was handed to the send service
    ACCEPTED = "accepted"  # the invitation was accepted (the wait step's row)
    FAILED = "failed"  # the send was refused for good, or the step was impossible


class CampaignStepFact(models.Model):
    """One counted row of a lead's step history (EnrollmentStep), keyed by its id.

    A sent step keeps its message's highest status seen (statuses only rise in rank):
    its delivered/read/failed flags count on the day it was sent."""

    enrollment_step_id = models.BigIntegerField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    enrollment_id = models.BigIntegerField()
    position = models.IntegerField()
    day = models.DateField()
    kind = models.CharField(max_length=16, choices=StepFactKind.choices)
    first = models.BooleanField(default=False)  # the lead's first step sent
    message_id = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["message_id"],
                condition=models.Q(message_id__isnull=False),
                name="campaign_step_fact_message",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} step {self.position} of {self.enrollment_id}"


class CampaignLeadFact(models.Model):
    """One enrollment: when it was enrolled, replied (after which step, how long after
    its first step) and opted out, each counted once."""

    enrollment_id = models.BigIntegerField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="+")
    enrolled_day = models.DateField()
    replied_day = models.DateField(null=True, blank=True)
    reply_position = models.IntegerField(null=True, blank=True)
    reply_delay_s = models.FloatField(null=True, blank=True)
    opted_out_day = models.DateField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["organization", "replied_day"],
                condition=models.Q(replied_day__isnull=False),
                name="campaign_lead_fact_replied",
            )
        ]

    def __str__(self) -> str:
        return f"Lead {self.enrollment_id} of {self.campaign_id}"


class CampaignReportCursor(models.Model):
    """How far the incremental pass has read a campaigns table by id ("steps",
    "enrollments"); its row lock is also the pass's (and the rebuild's) mutex."""

    name = models.CharField(max_length=32, primary_key=True)
    last_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.name} read up to {self.last_id}"
