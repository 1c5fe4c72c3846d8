"""The scheduler: every minute, claim the due enrollments of running campaigns and run
their next step through messaging's send services.

- Claimed set-based: one UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED
  LIMIT n), so schedulers running at once take disjoint batches. The claim pushes
  `next_run_at` forward by CLAIM_LEASE: if the run is lost (a crash, a killed worker)
  the enrollment is simply due again when the lease ends.
- Each step runs in its own transaction, holding the enrollment's row: the reply check,
  the step's execution row (unique per enrollment and position: the idempotency key),
  the campaign's cap count, the send service's queued message and the move to the
  next step commit together or not at all. A step whose execution row exists was sent
  by an earlier run: it is never sent again.
- What the send checks answer decides what happens (see `_refused`): "not now"
  reschedules, "never" stops the enrollment with the reason.

Nothing is counted in memory: caps and progress are rows.
"""

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from campaigns import calendar, caps, steps
from campaigns.calendar import SendingCalendar
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    EnrollmentStep,
    Step,
    StepKind,
    StepOutcome,
)
from campaigns.replies import enrollment_mark_replied, enrollment_reply_at
from campaigns.services import (
    campaigns_complete_finished,
    campaigns_start_due,
    enrollments_activate_running,
)
from tenants.errors import ApplicationError

logger = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
BATCH_SIZE = 500
# A tick stops claiming after this long: the next one (a minute later) goes on.
TICK_BUDGET_SECONDS = 45.0
# How often a lead waiting for an invitation's acceptance is looked at again.
ACCEPTANCE_RECHECK = timedelta(hours=1)


@dataclass
class TickReport:
    started_campaigns: int = 0
    activated: int = 0
    replied: int = 0
    claimed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    completed_campaigns: int = 0
    notified: int = 0


def scheduler_tick(
    *,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    budget_seconds: float = TICK_BUDGET_SECONDS,
) -> TickReport:
    """One run of the scheduler. `now` is for tests; otherwise the clock, read again
    for every batch."""
    from campaigns.replies import replies_detect, reply_notifications_retry

    report = TickReport()
    clock = (lambda: now) if now else timezone.now
    report.started_campaigns = campaigns_start_due(now=clock())
    report.activated = enrollments_activate_running(now=clock())
    report.replied = len(replies_detect(now=clock()))
    deadline = time.monotonic() + budget_seconds
    while time.monotonic() < deadline:
        at = clock()
        token, claimed = enrollments_claim(now=at, limit=batch_size)
        report.claimed += len(claimed)
        for enrollment_id in claimed:
            outcome = enrollment_step_run(enrollment_id=enrollment_id, token=token, now=clock())
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + 1
        if len(claimed) < batch_size:
            break
    report.completed_campaigns = campaigns_complete_finished(now=clock())
    report.notified = reply_notifications_retry()
    return report


def enrollments_claim(*, now: datetime, limit: int = BATCH_SIZE) -> tuple[str, list[int]]:
    """Claim up to `limit` due enrollments of running, uncapped campaigns: one indexed
    statement (enrollment_due), which costs a few milliseconds when nothing is due."""
    token = secrets.token_hex(8)
    enrollment, campaign = Enrollment._meta.db_table, Campaign._meta.db_table
    lock = " FOR UPDATE OF e SKIP LOCKED" if connection.vendor == "postgresql" else ""
    sql = (
        f"UPDATE {enrollment} SET next_run_at = %s, claim_token = %s, claimed_at = %s "  # noqa: S608 - names from the models
        f"WHERE id IN (SELECT e.id FROM {enrollment} e JOIN {campaign} k ON k.id = e.campaign_id "
        "WHERE k.status = %s AND (k.capped_until IS NULL OR k.capped_until <= %s) "
        f"AND e.state IN (%s, %s) AND e.next_run_at <= %s LIMIT %s{lock}) RETURNING id"
    )
    params = [
        now + CLAIM_LEASE,
        token,
        now,
        CampaignStatus.RUNNING,
        now,
        EnrollmentState.ACTIVE,
        EnrollmentState.WAITING,
        now,
        limit,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        return token, sorted(row[0] for row in cursor.fetchall())


def enrollment_step_run(*, enrollment_id: int, token: str, now: datetime) -> str:
    """Run the claimed enrollment's next step; returns what happened. An enrollment no
    longer held by this claim (stopped meanwhile, or claimed again after the lease)
    is left alone."""
    try:
        with transaction.atomic():
            enrollment = (
                Enrollment.objects.select_for_update(of=("self",))
                .select_related("campaign__channel", "campaign__organization", "contact")
                .filter(pk=enrollment_id, claim_token=token, state__in=_DUE)
                .first()
            )
            if enrollment is None:
                return "lost"
            return _run(enrollment, now)
    except Exception:
        # Rolled back; still claimed, so it is tried again when the lease ends.
        logger.exception("Campaign step of enrollment %s failed", enrollment_id)
        return "error"


_DUE = (EnrollmentState.ACTIVE, EnrollmentState.WAITING)


def _run(enrollment: Enrollment, now: datetime) -> str:
    campaign = enrollment.campaign
    if campaign.status != CampaignStatus.RUNNING:  # paused or cancelled since the claim
        _reschedule(enrollment, now)
        return "not_running"
    if campaign.capped_until and campaign.capped_until > now:  # capped mid-batch
        _reschedule(enrollment, campaign.capped_until)
        return "capped"
    replied_at = enrollment_reply_at(enrollment=enrollment, lock=True)
    if replied_at is not None:
        enrollment_mark_replied(enrollment=enrollment, at=replied_at, now=now)
        return "replied"
    step = steps.next_step(campaign_id=campaign.pk, position=enrollment.current_position)
    if step is None:
        _finish(enrollment, EnrollmentState.COMPLETED, "", now)
        return "completed"
    cal = calendar_for(campaign)
    if step.kind == StepKind.WAIT_FOR_ACCEPTANCE:
        return _wait_for_acceptance(enrollment, step, now, cal)
    if not calendar.is_sending_moment(now, cal):
        _reschedule(enrollment, calendar.next_sending_moment(now, cal))
        return "outside_hours"
    return _send_step(enrollment, step, now, cal)


def calendar_for(campaign: Campaign) -> SendingCalendar:
    return calendar.calendar_of(
        zone=campaign.zone_name,
        start=campaign.send_start,
        end=campaign.send_end,
        days=campaign.send_days,
    )


def _send_step(enrollment: Enrollment, step: Step, now: datetime, cal: SendingCalendar) -> str:
    try:
        # A savepoint: the execution row, the cap count and the send stand or fall
        # together; a refusal leaves none of them.
        with transaction.atomic():
            execution = EnrollmentStep.objects.create(
                enrollment=enrollment,
                step=step,
                position=step.position,
                execution=True,
                at=now,
                outcome=StepOutcome.QUEUED,
            )
            caps.campaign_cap_take(campaign=enrollment.campaign, step=step, now=now, cal=cal)
            sent = steps.step_send(enrollment=enrollment, step=step)
            if sent.message is not None:
                execution.message = sent.message
            execution.detail = sent.detail
            execution.save(update_fields=["message", "detail"])
    except IntegrityError:
        # Its execution row exists: an earlier run sent it. Move on without sending.
        logger.info("Step %s of enrollment %s already ran", step.position, enrollment.pk)
        _advance(enrollment, step, now, cal)
        return "already_sent"
    except caps.CampaignCapped as capped:
        return _capped(enrollment, now, cal, str(capped))
    except ApplicationError as error:
        return _refused(enrollment, step, error, now, cal)
    except steps.StepImpossible as error:
        _history(enrollment, step, now, StepOutcome.FAILED, str(error))
        _finish(enrollment, EnrollmentState.FAILED, error.reason, now, str(error))
        return "failed"
    _advance(enrollment, step, now, cal)
    return "sent"


def _refused(
    enrollment: Enrollment, step: Step, error: ApplicationError, now: datetime, cal
) -> str:
    """What a send check said: not now (reschedule) or never (stop, with the reason)."""
    verdict = caps.verdict_for(error)
    detail = f"{error.code}: {error.message}"[:500]
    if verdict == caps.CHANNEL_CAPPED:
        return _capped(enrollment, now, cal, detail, retry_after=error.details.get("retry_after"))
    if verdict == caps.NOT_NOW:
        wait = timedelta(seconds=float(error.details.get("retry_after") or 60))
        _history(enrollment, step, now, StepOutcome.DEFERRED, detail)
        _reschedule(enrollment, calendar.next_sending_moment(now + wait, cal))
        return "deferred"
    if verdict == caps.WAIT_FOR_WINDOW:
        return _wait_for_window(enrollment, step, now, cal, detail)
    _history(enrollment, step, now, StepOutcome.REFUSED, detail)
    state = caps.STOP_STATE.get(error.code, EnrollmentState.FAILED)
    _finish(enrollment, state, str(error.code), now, error.message)
    return state


def _capped(enrollment: Enrollment, now: datetime, cal, reason: str, retry_after=None) -> str:
    """A daily cap is reached: the whole campaign waits for the next sending day."""
    until = caps.campaign_cap_until(now=now, cal=cal, retry_after=retry_after)
    caps.campaign_mark_capped(campaign=enrollment.campaign, until=until, reason=reason)
    _reschedule(enrollment, until)
    return "capped"


def _wait_for_window(enrollment: Enrollment, step: Step, now: datetime, cal, detail: str) -> str:
    """WhatsApp text with the window closed: wait (it opens if the lead writes, which
    stops the enrollment as replied, or if an agent's template opens it under the
    template-opens policy), re-trying hourly until WINDOW_WAIT has passed, then stop."""
    wait_until = enrollment.wait_until if enrollment.wait_reason == "window" else None
    wait_until = wait_until or calendar.add_delay(
        now, amount=caps.WINDOW_WAIT_WORKING_DAYS, unit=calendar.WORKING_DAYS, cal=cal
    )
    if now >= wait_until:
        _history(enrollment, step, now, StepOutcome.TIMED_OUT, detail)
        _finish(enrollment, EnrollmentState.STOPPED, "window_expired", now, detail)
        return "window_expired"
    _history(enrollment, step, now, StepOutcome.DEFERRED, detail)
    retry = min(calendar.add_delay(now, amount=1, unit=calendar.HOURS, cal=cal), wait_until)
    _set(enrollment, state=EnrollmentState.WAITING, wait_reason="window", wait_until=wait_until)
    _reschedule(enrollment, retry)
    return "waiting_window"


def _wait_for_acceptance(enrollment: Enrollment, step: Step, now: datetime, cal) -> str:
    if enrollment.wait_reason != "acceptance":
        until = None
        if step.timeout_amount:
            until = calendar.add_delay(
                now, amount=step.timeout_amount, unit=step.timeout_unit, cal=cal
            )
        _set(
            enrollment,
            state=EnrollmentState.WAITING,
            wait_reason="acceptance",
            wait_until=until,
        )
    if steps.invitation_was_accepted(enrollment=enrollment):
        _history(enrollment, step, now, StepOutcome.ACCEPTED, "")
        _advance(enrollment, step, now, cal)
        return "accepted"
    if enrollment.wait_until and now >= enrollment.wait_until:
        _history(enrollment, step, now, StepOutcome.TIMED_OUT, "Invitation not accepted in time.")
        _finish(enrollment, EnrollmentState.STOPPED, "invitation_not_accepted", now)
        return "timed_out"
    retry = now + ACCEPTANCE_RECHECK
    _reschedule(enrollment, min(retry, enrollment.wait_until) if enrollment.wait_until else retry)
    return "waiting_acceptance"


def _advance(enrollment: Enrollment, step: Step, now: datetime, cal) -> None:
    following = steps.next_step(campaign_id=enrollment.campaign_id, position=step.position + 1)
    if following is None:
        _finish(enrollment, EnrollmentState.COMPLETED, "", now)
        return
    due = calendar.add_delay(now, amount=following.delay_amount, unit=following.delay_unit, cal=cal)
    _set(
        enrollment,
        state=EnrollmentState.ACTIVE,
        current_position=step.position + 1,
        next_run_at=due,
        wait_reason="",
        wait_until=None,
        claim_token="",
    )


def _reschedule(enrollment: Enrollment, at: datetime) -> None:
    _set(enrollment, next_run_at=at, claim_token="")


def _finish(enrollment, state: str, reason: str, now: datetime, detail: str = "") -> None:
    _set(
        enrollment,
        state=state,
        stop_reason=reason,
        stop_detail=detail[:500],
        next_run_at=None,
        finished_at=now,
        claim_token="",
    )


def _set(enrollment: Enrollment, **changes) -> None:
    for name, value in changes.items():
        setattr(enrollment, name, value)
    enrollment.save(update_fields=[*changes, "updated_at"])


def _history(enrollment, step: Step, now: datetime, outcome: str, detail: str, execution=False):
    EnrollmentStep.objects.create(
        enrollment=enrollment,
        step=step,
        position=step.position,
        execution=execution,
        at=now,
        outcome=outcome,
        detail=detail[:500],
    )
