"""Leases of reconciliation runs, like those of webhook events: a queued or running
run holds `lease_expires_at`; a running one renews it with every page it saves. A run
whose lease ran out lost its task (queued: queue it again) or its worker (running:
killed, restarted, over its time limit; fail it with the way to resume). Only one
worker at a time can hold a run."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from reconciliation.models import ReconciliationRun, RunStatus


def run_lease() -> timedelta:
    return timedelta(seconds=settings.RECONCILIATION_RUN_LEASE_SECONDS)


def resume_hint(run_id: int) -> str:
    return (
        f"The run keeps its place: resume it with `manage.py reconcile --resume {run_id}` "
        "or the admin's Resume action (the next scheduled run also covers the window)."
    )


def run_claim(*, run_id: int) -> bool:
    """Take the run for this worker: queued, failed (a resume), or running under a
    lease that ran out (its worker is gone)."""
    now = timezone.now()
    claimable = Q(status__in=[RunStatus.QUEUED, RunStatus.FAILED]) | Q(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=now), status=RunStatus.RUNNING
    )
    return bool(
        ReconciliationRun.objects.filter(claimable, pk=run_id).update(
            status=RunStatus.RUNNING,
            started_at=Coalesce("started_at", Value(now)),
            lease_expires_at=now + run_lease(),
            error="",
        )
    )


def run_lease_renew(*, run: ReconciliationRun) -> None:
    """Only the lease, by its own UPDATE: the reader thread fetches ahead while the
    main thread saves the run."""
    ReconciliationRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
        lease_expires_at=timezone.now() + run_lease()
    )


@dataclass(frozen=True)
class Swept:
    failed: list[int]
    requeue: list[int]


def runs_sweep(*, now: datetime | None = None) -> Swept:
    """Runs whose lease ran out: a running one lost its worker and fails (with how to
    resume); a queued one lost its task and is to be queued again (lease renewed)."""
    now = now or timezone.now()
    expired = ReconciliationRun.objects.filter(lease_expires_at__lte=now)
    failed = []
    for run in expired.filter(status=RunStatus.RUNNING):
        if _claim_expired(run, now):
            failed.append(run.pk)
    queued = list(expired.filter(status=RunStatus.QUEUED).values_list("pk", flat=True))
    ReconciliationRun.objects.filter(pk__in=queued, status=RunStatus.QUEUED).update(
        lease_expires_at=now + run_lease()
    )
    return Swept(failed=failed, requeue=queued)


def _claim_expired(run: ReconciliationRun, now: datetime) -> bool:
    error = (
        "Its worker stopped (killed, restarted or over its time limit) and did not "
        f"renew its lease. {resume_hint(run.pk)}"
    )
    return bool(
        ReconciliationRun.objects.filter(
            pk=run.pk, status=RunStatus.RUNNING, lease_expires_at__lte=now
        ).update(status=RunStatus.FAILED, finished_at=now, lease_expires_at=None, error=error)
    )
