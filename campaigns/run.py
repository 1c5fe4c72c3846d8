"""One step of one lead, inside a batch's transaction.

The batch (`Batch`) holds what every lead of it shares, read once inside the batch's
transaction: the campaigns (status, caps), their steps (read now, so an edit applies
to every lead that has not reached it), the calendars, the locked conversations (the
reply check), and the steps already executed. What changes is written at the end of
the batch in a few statements (`Batch.flush`), in the same transaction as the send
services' queued messages: the execution rows (the per-step idempotency key), the
history and the enrollments' next step.

What the send checks answer decides what happens (`_refused`): "not now" reschedules,
"never" stops the lead with the reason.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection

from campaigns import calendar, caps, events, steps
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
from campaigns.replies import enrollment_mark_replied, reply_after_start
from outbox.services import events_record_many
from tenants.db import rows_insert, rows_update_together
from tenants.errors import ApplicationError

logger = logging.getLogger(__name__)

# A step handed to the batch send: its outcome comes from `pending_send`.
PENDING = "pending"
# How often a lead waiting for an invitation's acceptance is looked at again.
ACCEPTANCE_RECHECK = timedelta(hours=1)
# The enrollment fields a step may change (written back in one statement per batch).
ENROLLMENT_FIELDS = [
    "conversation_id",
    "state",
    "current_position",
    "next_run_at",
    "wait_reason",
    "wait_until",
    "stop_reason",
    "stop_detail",
    "claim_token",
    "finished_at",
    "updated_at",
]

# What Batch.record keeps of a history row (EnrollmentStep's attnames), in order.
HISTORY_COLUMNS = (
    "enrollment_id",
    "step_id",
    "position",
    "execution",
    "at",
    "message_id",
    "outcome",
    "detail",
)


def calendar_for(campaign: Campaign) -> SendingCalendar:
    return calendar.calendar_of(
        zone=campaign.zone_name,
        start=campaign.send_start,
        end=campaign.send_end,
        days=campaign.send_days,
    )


@dataclass
class Batch:
    now: datetime
    campaigns: dict[int, Campaign]
    steps: dict[int, list[Step]]
    conversations: dict[tuple[int, int], tuple]
    executed: set[tuple[int, int]]
    calendars: dict[int, SendingCalendar] = field(default_factory=dict)
    # Channels at their throughput limit in this batch, and until when: the batch's
    # other leads on them wait without trying (and without a history row each).
    throttled: dict[int, datetime] = field(default_factory=dict)
    # The EnrollmentStep rows to write, as HISTORY_COLUMNS tuples (an instance each
    # cost more than its insert).
    history: list[tuple] = field(default_factory=list)
    # Messages waiting for the batch send: (enrollment, step, calendar, item).
    pending: list[tuple] = field(default_factory=list)
    # Steps that met their campaign's cap while steps of that campaign wait for the
    # batch send: a refused one gives its count back, so they try again after it.
    over_cap: list[tuple] = field(default_factory=list)
    changed: dict[int, Enrollment] = field(default_factory=dict)

    def calendar(self, campaign: Campaign) -> SendingCalendar:
        if campaign.pk not in self.calendars:
            self.calendars[campaign.pk] = calendar_for(campaign)
        return self.calendars[campaign.pk]

    def step_from(self, campaign_id: int, position: int) -> Step | None:
        return next((s for s in self.steps.get(campaign_id, []) if s.position >= position), None)

    def record(self, enrollment, step, outcome, detail="", *, execution=False, message=None):
        self.history.append(
            (
                enrollment.pk,
                step.pk,
                step.position,
                execution,
                self.now,
                message.pk if message is not None else None,
                outcome,
                detail[:500],
            )
        )

    def set(self, enrollment: Enrollment, **changes) -> None:
        for name, value in changes.items():
            setattr(enrollment, name, value)
        enrollment.updated_at = self.now
        self.changed[enrollment.pk] = enrollment

    def flush(self) -> None:
        # The execution rows' unique constraint is the last word: a duplicate aborts
        # the whole batch (its messages included), never sends a step twice.
        if self.history and connection.vendor == "postgresql":
            columns = [list(values) for values in zip(*self.history, strict=True)]
            rows_insert(
                EnrollmentStep, dict(zip(HISTORY_COLUMNS, columns, strict=True)), now=self.now
            )
        elif self.history:
            EnrollmentStep.objects.bulk_create(
                [
                    EnrollmentStep(**dict(zip(HISTORY_COLUMNS, row, strict=True)))
                    for row in self.history
                ]
            )
        enrollments_write(list(self.changed.values()))
        events_record_many(events=events.enrollments_completed(list(self.changed.values())))


def enrollments_write(enrollments: list[Enrollment]) -> None:
    """Write the step fields of many enrollments in one statement (one array per
    field): Django's bulk_update builds a CASE per row and field, which cost seconds a
    batch."""
    if not enrollments:
        return
    if connection.vendor != "postgresql":
        Enrollment.objects.bulk_update(enrollments, ENROLLMENT_FIELDS)
        return
    rows_update_together(enrollments, ENROLLMENT_FIELDS)


def step_run(enrollment: Enrollment, batch: Batch) -> str:
    """Run the lead's next step (or not) and say what happened."""
    now = batch.now
    campaign = batch.campaigns[enrollment.campaign_id]
    enrollment.campaign = campaign  # one shared copy: a cap hit mid-batch is seen by all
    if campaign.status != CampaignStatus.RUNNING:  # paused or cancelled since the claim
        _reschedule(batch, enrollment, now)
        return "not_running"
    if campaign.capped_until and campaign.capped_until > now:  # capped mid-batch
        _reschedule(batch, enrollment, campaign.capped_until)
        return "capped"
    conversation = batch.conversations.get((enrollment.contact_id, campaign.channel_id))
    if conversation is not None:
        _attach(batch, enrollment, conversation)
    replied_at = reply_after_start(
        enrollment, conversation.last_user_message_at if conversation else None
    )
    if replied_at is not None:
        enrollment_mark_replied(enrollment=enrollment, at=replied_at, now=now)
        batch.changed.pop(enrollment.pk, None)
        return "replied"
    step = batch.step_from(campaign.pk, enrollment.current_position)
    if step is None:
        _finish(batch, enrollment, EnrollmentState.COMPLETED, "")
        return "completed"
    cal = batch.calendar(campaign)
    if step.kind == StepKind.WAIT_FOR_ACCEPTANCE:
        return _wait_for_acceptance(batch, enrollment, step, cal)
    if not calendar.is_sending_moment(now, cal):
        _reschedule(batch, enrollment, calendar.next_sending_moment(now, cal))
        return "outside_hours"
    throttled_until = batch.throttled.get(campaign.channel_id)
    if throttled_until is not None:
        _reschedule(batch, enrollment, throttled_until)
        return "throttled"
    return _send_step(batch, enrollment, step, cal)


def _attach(batch: Batch, enrollment: Enrollment, conversation) -> None:
    """The lead's conversation, as locked by the batch: the send uses it as it is."""
    conversation.channel = enrollment.campaign.channel
    conversation.contact = enrollment.contact
    if enrollment.conversation_id != conversation.pk:
        batch.set(enrollment, conversation=conversation)
    else:
        enrollment.conversation = conversation


def _send_step(batch: Batch, enrollment: Enrollment, step: Step, cal) -> str:
    if (enrollment.pk, step.position) in batch.executed:
        # An earlier run sent it (its execution row exists): move on, never resend.
        _advance(batch, enrollment, step, cal)
        return "already_sent"
    try:
        # The cap counts only when under the cap; a send refused after it gives its
        # count back (_refused, and the impossible step below).
        caps.campaign_cap_take(campaign=enrollment.campaign, step=step, now=batch.now, cal=cal)
        if step.kind in steps.BATCHED_KINDS:
            # Sent with the batch's other messages (Batch.send_pending), one batch
            # send for all: what it answers is handled by _sent / _refused below.
            batch.pending.append((enrollment, step, cal, steps.step_item(enrollment, step)))
            return PENDING
        sent = steps.step_send(enrollment=enrollment, step=step)
    except caps.CampaignCapped as capped:
        if any(waiting.campaign_id == enrollment.campaign_id for waiting, *_ in batch.pending):
            batch.over_cap.append((enrollment, step, cal))
            return PENDING
        return _capped(batch, enrollment, cal, str(capped))
    except ApplicationError as error:
        return _refused(batch, enrollment, step, error, cal)
    except steps.StepImpossible as error:
        caps.campaign_cap_give_back(campaign=enrollment.campaign, step=step, now=batch.now, cal=cal)
        batch.record(enrollment, step, StepOutcome.FAILED, str(error))
        _finish(batch, enrollment, EnrollmentState.FAILED, error.reason, str(error))
        return "failed"
    return _sent(batch, enrollment, step, cal, sent)


def _sent(batch: Batch, enrollment: Enrollment, step: Step, cal, sent: steps.Sent) -> str:
    batch.executed.add((enrollment.pk, step.position))
    batch.record(
        enrollment, step, StepOutcome.QUEUED, sent.detail, execution=True, message=sent.message
    )
    _advance(batch, enrollment, step, cal)
    return "sent"


def pending_send(batch: Batch) -> dict[str, int]:
    """Send the batch's pending messages in one batch send and settle each lead by its
    answer, as a single send's answer would have settled it. Returns the outcomes."""
    outcomes: dict[str, int] = {}
    while batch.pending:
        pending, batch.pending = batch.pending, []
        answers = steps.items_send([item for *_, item in pending])
        for (enrollment, step, cal, _), answer in zip(pending, answers, strict=True):
            if isinstance(answer, ApplicationError):
                outcome = _refused(batch, enrollment, step, answer, cal)
            else:
                outcome = _sent(batch, enrollment, step, cal, steps.Sent(answer))
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
        # Refusals gave their counts back: the steps that met the cap try again (each
        # round sends or caps every one of them: the loop ends).
        over_cap, batch.over_cap = batch.over_cap, []
        for enrollment, step, cal in over_cap:
            outcome = _send_step(batch, enrollment, step, cal)
            if outcome != PENDING:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _refused(batch: Batch, enrollment: Enrollment, step: Step, error: ApplicationError, cal):
    # Every refusal here comes after the step's campaign_cap_take (a CampaignCapped
    # never reaches here): nothing was sent, so nothing counts.
    caps.campaign_cap_give_back(campaign=enrollment.campaign, step=step, now=batch.now, cal=cal)
    verdict = caps.verdict_for(error)
    detail = f"{error.code}: {error.message}"[:500]
    if verdict == caps.CHANNEL_CAPPED:
        retry_after = error.details.get("retry_after")
        return _capped(batch, enrollment, cal, detail, retry_after=retry_after)
    if verdict == caps.THROTTLED:
        # The channel's throughput: a matter of milliseconds, not an event in the
        # lead's timeline. Its other leads in this batch wait too.
        wait = timedelta(seconds=float(error.details.get("retry_after") or 1))
        batch.throttled[enrollment.campaign.channel_id] = batch.now + wait
        _reschedule(batch, enrollment, calendar.next_sending_moment(batch.now + wait, cal))
        return "throttled"
    if verdict == caps.NOT_NOW:
        batch.record(enrollment, step, StepOutcome.DEFERRED, detail)
        _reschedule(batch, enrollment, calendar.next_sending_moment(batch.now + caps.RETRY, cal))
        return "deferred"
    if verdict == caps.WAIT_FOR_WINDOW:
        return _wait_for_window(batch, enrollment, step, cal, detail)
    batch.record(enrollment, step, StepOutcome.REFUSED, detail)
    state = caps.STOP_STATE.get(error.code, EnrollmentState.FAILED)
    _finish(batch, enrollment, state, str(error.code), error.message)
    return state


def _capped(batch: Batch, enrollment: Enrollment, cal, reason: str, retry_after=None) -> str:
    """A daily cap is reached: the whole campaign waits for the next sending day."""
    until = caps.campaign_cap_until(now=batch.now, cal=cal, retry_after=retry_after)
    caps.campaign_mark_capped(campaign=enrollment.campaign, until=until, reason=reason)
    _reschedule(batch, enrollment, until)
    return "capped"


def _wait_for_window(batch: Batch, enrollment: Enrollment, step: Step, cal, detail: str) -> str:
    """WhatsApp text with the window closed: wait (it opens if the lead writes, which
    stops the lead as replied, or if an agent's template opens it under the
    template-opens policy), trying hourly until WINDOW_WAIT has passed, then stop."""
    now = batch.now
    wait_until = enrollment.wait_until if enrollment.wait_reason == "window" else None
    wait_until = wait_until or calendar.add_delay(
        now, amount=caps.WINDOW_WAIT_WORKING_DAYS, unit=calendar.WORKING_DAYS, cal=cal
    )
    if now >= wait_until:
        batch.record(enrollment, step, StepOutcome.TIMED_OUT, detail)
        _finish(batch, enrollment, EnrollmentState.STOPPED, "window_expired", detail)
        return "window_expired"
    batch.record(enrollment, step, StepOutcome.DEFERRED, detail)
    retry = min(calendar.add_delay(now, amount=1, unit=calendar.HOURS, cal=cal), wait_until)
    batch.set(
        enrollment,
        state=EnrollmentState.WAITING,
        wait_reason="window",
        wait_until=wait_until,
        next_run_at=retry,
        claim_token="",
    )
    return "waiting_window"


def _wait_for_acceptance(batch: Batch, enrollment: Enrollment, step: Step, cal) -> str:
    now = batch.now
    if enrollment.wait_reason != "acceptance":
        until = None
        if step.timeout_amount:
            until = calendar.add_delay(
                now, amount=step.timeout_amount, unit=step.timeout_unit, cal=cal
            )
        batch.set(
            enrollment, state=EnrollmentState.WAITING, wait_reason="acceptance", wait_until=until
        )
    if steps.invitation_was_accepted(enrollment=enrollment):
        batch.record(enrollment, step, StepOutcome.ACCEPTED)
        _advance(batch, enrollment, step, cal)
        return "accepted"
    if enrollment.wait_until and now >= enrollment.wait_until:
        batch.record(enrollment, step, StepOutcome.TIMED_OUT, "Invitation not accepted in time.")
        _finish(batch, enrollment, EnrollmentState.STOPPED, "invitation_not_accepted")
        return "timed_out"
    retry = now + ACCEPTANCE_RECHECK
    if enrollment.wait_until:
        retry = min(retry, enrollment.wait_until)
    _reschedule(batch, enrollment, retry)
    return "waiting_acceptance"


def _advance(batch: Batch, enrollment: Enrollment, step: Step, cal) -> None:
    following = batch.step_from(enrollment.campaign_id, step.position + 1)
    if following is None:
        _finish(batch, enrollment, EnrollmentState.COMPLETED, "")
        return
    due = calendar.add_delay(
        batch.now, amount=following.delay_amount, unit=following.delay_unit, cal=cal
    )
    batch.set(
        enrollment,
        state=EnrollmentState.ACTIVE,
        current_position=step.position + 1,
        next_run_at=due,
        wait_reason="",
        wait_until=None,
        claim_token="",
    )


def _reschedule(batch: Batch, enrollment: Enrollment, at: datetime) -> None:
    batch.set(enrollment, next_run_at=at, claim_token="")


def _finish(batch: Batch, enrollment, state: str, reason: str, detail: str = "") -> None:
    batch.set(
        enrollment,
        state=state,
        stop_reason=reason,
        stop_detail=detail[:500],
        next_run_at=None,
        finished_at=batch.now,
        claim_token="",
    )
