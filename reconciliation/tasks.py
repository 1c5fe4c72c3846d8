"""Celery entry points for reconciliation (queue `maintenance`): each takes ids (or
nothing) and calls a service."""

from celery import shared_task

from reconciliation import health, leases, services
from reconciliation.models import RunKind


@shared_task
def webhook_health_checks_task() -> dict:
    """Queue a health check for every channel that has one enabled, one task each, so
    that one channel's trouble holds back no other."""
    channel_ids = list(health.health_check_channels().values_list("pk", flat=True))
    for channel_id in channel_ids:
        webhook_health_check_task.delay(channel_id)
    return {"queued": channel_ids}


@shared_task
def webhook_health_check_task(channel_id: int) -> dict:
    """Send one channel's test message; the settle task records what came back."""
    channel = health.health_check_channels().filter(pk=channel_id).first()
    if channel is None:
        return {"channel": channel_id, "skipped": "health check not enabled, or channel off"}
    check = health.health_check_run(channel=channel)
    return {"channel": channel_id, "check": check.pk, "result": check.result}


@shared_task
def webhook_health_checks_settle_task() -> dict:
    return health.health_checks_settle()


@shared_task
def webhook_health_checks_purge_task() -> dict:
    return {"deleted": health.health_checks_purge()}


# --- reconciliation runs --------------------------------------------------------------


@shared_task
def reconciliation_run_task(run_id: int) -> dict:
    """Carry out (or resume) one run; it keeps its own counters and cursor."""
    run = services.run_execute(run_id=run_id)
    return {"run": run.pk, "status": run.status, "created": run.created, "updated": run.updated}


@shared_task
def reconciliation_runs_sweep_task() -> dict:
    """Fail runs whose worker is gone; queue again runs whose task was lost."""
    swept = leases.runs_sweep()
    for run_id in swept.requeue:
        reconciliation_run_task.delay(run_id)
    return {"failed": swept.failed, "requeued": swept.requeue}


@shared_task
def reconciliation_daily_task() -> dict:
    """A run over the lookback for every active channel, one task each."""
    return _queued(services.runs_schedule_all())


@shared_task
def reconciliation_integrity_task() -> dict:
    """Weekly: per-day message counts of the last 7 days, provider against ours."""
    return _queued(services.runs_schedule_all(kind=RunKind.INTEGRITY))


@shared_task
def relations_reconcile_daily_task() -> dict:
    """Daily: each LinkedIn channel's recent relations, for acceptances whose webhook
    never came."""
    return _queued(services.runs_schedule_all(kind=RunKind.RELATIONS))


def _queued(scheduled: services.Scheduled) -> dict:
    for run_id in scheduled.runs:
        reconciliation_run_task.delay(run_id)
    return {"queued": scheduled.runs}
