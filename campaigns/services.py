"""Writes for campaigns: start, pause, resume, cancel, stop one lead, add leads.

A status change commits before the scheduler's next claim looks (claims take running
campaigns only) and every step re-reads its campaign's status in its own transaction:
a pause or cancel stops everything not already being sent at that instant.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from campaigns import calendar
from campaigns.models import (
    LIVE_STATES,
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    Step,
)
from campaigns.run import calendar_for
from conversations.models import Contact
from tenants.errors import field_error

FINAL_STATUSES = (CampaignStatus.COMPLETED, CampaignStatus.CANCELLED)


@transaction.atomic
def campaign_start(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Draft to running (or scheduled, until `starts_at`); its leads become active."""
    now = now or timezone.now()
    campaign = _locked(campaign)
    if campaign.status not in (CampaignStatus.DRAFT, CampaignStatus.SCHEDULED):
        raise field_error("status", f"A {campaign.status} campaign cannot be started.")
    if not Step.objects.filter(campaign=campaign).exists():
        raise field_error("steps", "A campaign needs at least one step.", code="required")
    try:
        calendar_for(campaign)
    except (ValueError, KeyError) as exc:
        raise field_error("send_days", str(exc)) from exc
    campaign.started_at = campaign.started_at or now
    if campaign.starts_at and campaign.starts_at > now:
        campaign.status = CampaignStatus.SCHEDULED
    else:
        campaign.status = CampaignStatus.RUNNING
    campaign.save(update_fields=["status", "started_at", "updated_at"])
    if campaign.status == CampaignStatus.RUNNING:
        enrollments_activate(campaign=campaign, now=now)
    return campaign


@transaction.atomic
def campaign_pause(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    campaign = _locked(campaign)
    if campaign.status not in (CampaignStatus.RUNNING, CampaignStatus.SCHEDULED):
        raise field_error("status", f"A {campaign.status} campaign cannot be paused.")
    campaign.status, campaign.paused_at = CampaignStatus.PAUSED, now or timezone.now()
    campaign.save(update_fields=["status", "paused_at", "updated_at"])
    return campaign


@transaction.atomic
def campaign_resume(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """Steps that fell due while paused go at the next sending moment (not all at once
    outside hours: each is checked against the calendar when claimed)."""
    now = now or timezone.now()
    campaign = _locked(campaign)
    if campaign.status != CampaignStatus.PAUSED:
        raise field_error("status", f"A {campaign.status} campaign cannot be resumed.")
    scheduled = campaign.starts_at and campaign.starts_at > now
    campaign.status = CampaignStatus.SCHEDULED if scheduled else CampaignStatus.RUNNING
    campaign.paused_at = None
    campaign.save(update_fields=["status", "paused_at", "updated_at"])
    if campaign.status == CampaignStatus.RUNNING:
        enrollments_activate(campaign=campaign, now=now)
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign: Campaign, now: datetime | None = None) -> Campaign:
    """For good: every lead still to run is stopped."""
    now = now or timezone.now()
    campaign = _locked(campaign)
    if campaign.status in FINAL_STATUSES:
        raise field_error("status", f"A {campaign.status} campaign cannot be cancelled.")
    campaign.status, campaign.finished_at = CampaignStatus.CANCELLED, now
    campaign.save(update_fields=["status", "finished_at", "updated_at"])
    Enrollment.objects.filter(campaign=campaign, state__in=LIVE_STATES).update(
        state=EnrollmentState.STOPPED,
        stop_reason="campaign_cancelled",
        next_run_at=None,
        finished_at=now,
        updated_at=now,
    )
    return campaign


@transaction.atomic
def enrollment_stop(
    *, enrollment: Enrollment, reason: str = "stopped_by_user", now: datetime | None = None
) -> Enrollment:
    """Stop one lead; the row lock waits for a step being sent to it right now."""
    now = now or timezone.now()
    locked = Enrollment.objects.select_for_update().get(pk=enrollment.pk)
    if locked.state not in LIVE_STATES:
        raise field_error("state", f"A {locked.state} enrollment cannot be stopped.")
    locked.state, locked.stop_reason = EnrollmentState.STOPPED, reason[:64]
    locked.next_run_at, locked.finished_at = None, now
    locked.save(update_fields=["state", "stop_reason", "next_run_at", "finished_at", "updated_at"])
    return locked


@dataclass(frozen=True)
class Lead:
    contact: Contact
    fields: dict


def enrollments_add(*, campaign: Campaign, leads: Iterable[Lead]) -> int:
    """Enroll contacts of the campaign's organization (pending; active at once in a
    running campaign, on the scheduler's next tick). Already-enrolled contacts are
    skipped. Returns how many were added."""
    if campaign.status in FINAL_STATUSES:
        raise field_error("campaign", f"A {campaign.status} campaign takes no new leads.")
    rows = [
        Enrollment(campaign=campaign, contact=lead.contact, fields=dict(lead.fields))
        for lead in leads
        if lead.contact.organization_id == campaign.organization_id
    ]
    before = Enrollment.objects.filter(campaign=campaign).count()
    Enrollment.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
    return Enrollment.objects.filter(campaign=campaign).count() - before


def enrollments_activate(*, campaign: Campaign, now: datetime) -> int:
    """The campaign's pending leads start now: their first step is due after its delay,
    counted from now (or the campaign's start time) in the campaign's calendar. One
    UPDATE: every lead of a campaign starts at the same moment."""
    first = Step.objects.filter(campaign=campaign).order_by("position").first()
    if first is None:
        return 0
    begin = max(now, campaign.starts_at) if campaign.starts_at else now
    due = calendar.add_delay(
        begin, amount=first.delay_amount, unit=first.delay_unit, cal=calendar_for(campaign)
    )
    return Enrollment.objects.filter(campaign=campaign, state=EnrollmentState.PENDING).update(
        state=EnrollmentState.ACTIVE,
        # To the second: providers stamp a reply to the second (replies.py counts one
        # stamped in the start's own second, rather than miss it).
        started_at=now.replace(microsecond=0),
        current_position=first.position,
        next_run_at=due,
        updated_at=now,
    )


def campaigns_start_due(*, now: datetime) -> int:
    """Scheduled campaigns whose start time has come begin running."""
    started = 0
    for campaign in Campaign.objects.filter(status=CampaignStatus.SCHEDULED, starts_at__lte=now):
        with transaction.atomic():
            locked = _locked(campaign)
            if locked.status != CampaignStatus.SCHEDULED:
                continue
            locked.status = CampaignStatus.RUNNING
            locked.save(update_fields=["status", "updated_at"])
            enrollments_activate(campaign=locked, now=now)
            started += 1
    return started


def enrollments_activate_running(*, now: datetime) -> int:
    """Leads added to a running campaign since the last tick start now."""
    pending = Enrollment.objects.filter(campaign=OuterRef("pk"), state=EnrollmentState.PENDING)
    campaigns = Campaign.objects.filter(status=CampaignStatus.RUNNING).filter(Exists(pending))
    return sum(enrollments_activate(campaign=campaign, now=now) for campaign in campaigns)


def campaigns_complete_finished(*, now: datetime) -> int:
    """Running campaigns with leads and none left to run are completed."""
    live = Enrollment.objects.filter(campaign=OuterRef("pk"), state__in=LIVE_STATES)
    any_lead = Enrollment.objects.filter(campaign=OuterRef("pk"))
    return (
        Campaign.objects.filter(status=CampaignStatus.RUNNING)
        .filter(Exists(any_lead))
        .exclude(Exists(live))
        .update(status=CampaignStatus.COMPLETED, finished_at=now, updated_at=now)
    )


def _locked(campaign: Campaign) -> Campaign:
    return (
        Campaign.objects.select_for_update(of=("self",))
        .select_related("organization", "channel")
        .get(pk=campaign.pk)
    )
