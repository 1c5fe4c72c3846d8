"""The scheduler: every minute, claim the due enrollments of running campaigns and run
their next step through messaging's send services.

- Claimed set-based: one UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED
  LIMIT n), so schedulers running at once take disjoint batches. The claim pushes
  `next_run_at` forward by CLAIM_LEASE: if the run is lost (a crash, a killed worker)
  the enrollment is simply due again when the lease ends.
- A claimed batch runs in one transaction holding its enrollments' rows and their
  conversations' rows (the reply check): the steps' execution rows (unique per
  enrollment and position: the idempotency key), the campaign's cap counts, the send
  services' queued messages and the moves to the next step commit together or not at
  all. A step whose execution row exists was sent by an earlier run: never again.
- If a batch fails on something unexpected, its leads are run one transaction each,
  so that one bad lead holds back only itself (until its lease ends, then again).

Nothing is counted in memory: caps and progress are rows.
"""

import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from campaigns import run
from campaigns.models import (
    Campaign,
    CampaignStatus,
    Enrollment,
    EnrollmentState,
    EnrollmentStep,
    Step,
)
from campaigns.replies import conversations_locked
from campaigns.run import calendar_for
from campaigns.services import (
    campaigns_complete_finished,
    campaigns_start_due,
    enrollments_activate_running,
)

__all__ = [
    "batch_run",
    "calendar_for",
    "enrollment_step_run",
    "enrollments_claim",
    "scheduler_tick",
]

logger = logging.getLogger(__name__)

CLAIM_LEASE = timedelta(minutes=5)
BATCH_SIZE = 500
# A tick stops claiming after this long: the next one (a minute later) goes on.
TICK_BUDGET_SECONDS = 45.0
# A batch whose every lead waited for the channel's throughput limit: pause this long
# before claiming again, instead of claiming the same leads in a tight loop.
THROTTLE_PAUSE = 0.2


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
        outcomes = batch_run(enrollment_ids=claimed, token=token, now=at)
        for outcome, count in outcomes.items():
            report.outcomes[outcome] = report.outcomes.get(outcome, 0) + count
        if len(claimed) < batch_size:
            break
        if outcomes.get("throttled") == len(claimed):
            time.sleep(THROTTLE_PAUSE)  # the channel's rate is the limit: let it refill
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


def batch_run(*, enrollment_ids: list[int], token: str, now: datetime) -> dict[str, int]:
    """Run the next step of each claimed lead; returns how many had each outcome.
    Leads no longer held by this claim (stopped meanwhile, or claimed again after the
    lease) are left alone."""
    try:
        return _batch_in_one_transaction(enrollment_ids, token, now)
    except Exception:
        if len(enrollment_ids) == 1:
            logger.exception("Campaign step of enrollment %s failed", enrollment_ids[0])
            return {"error": 1}
        logger.exception("A campaign batch failed; running its leads one by one")
    outcomes: dict[str, int] = {}
    for enrollment_id in enrollment_ids:
        for outcome, count in batch_run(
            enrollment_ids=[enrollment_id], token=token, now=now
        ).items():
            outcomes[outcome] = outcomes.get(outcome, 0) + count
    return outcomes


def enrollment_step_run(*, enrollment_id: int, token: str, now: datetime) -> str:
    """One claimed lead's next step, in a transaction of its own."""
    outcomes = batch_run(enrollment_ids=[enrollment_id], token=token, now=now)
    return next(iter(outcomes), "lost")


def _batch_in_one_transaction(ids: list[int], token: str, now: datetime) -> dict[str, int]:
    outcomes: dict[str, int] = {}
    with transaction.atomic():
        enrollments = list(
            Enrollment.objects.select_for_update(of=("self",))
            .select_related("contact")
            .filter(pk__in=ids, claim_token=token, state__in=_DUE)
            .order_by("pk")
        )
        if not enrollments:
            return {"lost": len(ids)} if ids else {}
        batch = _batch_for(enrollments, now)
        for enrollment in enrollments:
            outcome = run.step_run(enrollment, batch)
            if outcome != run.PENDING:
                outcomes[outcome] = outcomes.get(outcome, 0) + 1
        for outcome, count in run.pending_send(batch).items():
            outcomes[outcome] = outcomes.get(outcome, 0) + count
        batch.flush()
    if len(enrollments) < len(ids):
        outcomes["lost"] = len(ids) - len(enrollments)
    return outcomes


_DUE = (EnrollmentState.ACTIVE, EnrollmentState.WAITING)


def _batch_for(enrollments: list[Enrollment], now: datetime) -> run.Batch:
    campaign_ids = {e.campaign_id for e in enrollments}
    campaigns = {
        c.pk: c
        for c in Campaign.objects.select_related("channel", "organization").filter(
            pk__in=campaign_ids
        )
    }
    steps_by_campaign: dict[int, list[Step]] = {}
    for step in Step.objects.filter(campaign_id__in=campaign_ids).order_by("position"):
        steps_by_campaign.setdefault(step.campaign_id, []).append(step)
    for enrollment in enrollments:
        enrollment.campaign = campaigns[enrollment.campaign_id]
    executed = set(
        EnrollmentStep.objects.filter(
            enrollment_id__in=[e.pk for e in enrollments], execution=True
        ).values_list("enrollment_id", "position")
    )
    return run.Batch(
        now=now,
        campaigns=campaigns,
        steps=steps_by_campaign,
        conversations=conversations_locked(enrollments=enrollments),
        executed=executed,
    )
