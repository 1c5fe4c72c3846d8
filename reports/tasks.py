"""Celery entry points of the reports app: each calls a service."""

from celery import shared_task
from django.utils import timezone

from reports.alerts import alerts_evaluate
from reports.campaign_rollups import campaign_rollups_update
from reports.digest_send import digests_send_due
from reports.inbox_rollup import inbox_rollups_update
from reports.ops_digest import ops_digest_send
from reports.quiet import quiet_periods_learn


@shared_task
def alerts_evaluate_task() -> dict:
    return alerts_evaluate()


@shared_task
def quiet_periods_learn_task() -> dict:
    return quiet_periods_learn(now=timezone.now())


@shared_task
def ops_digest_send_task() -> dict:
    return ops_digest_send()


# Every minute (reconciliation.schedules), on `maintenance`: a pass reads at most a page
# of each source, so the reports trail what happened by about a minute. Two passes at
# once are safe: the second finds the lock taken and returns.
@shared_task(ignore_result=True)
def campaign_rollups_update_task() -> dict | None:
    return campaign_rollups_update()


# Hourly (reconciliation.schedules), on `default`: it talks to the mail server. Each
# organization's digest goes on the first run after its local weekday and hour; two
# runs at once send nobody the same week twice (reports.digest_send).
@shared_task(ignore_result=True)
def weekly_digests_task() -> dict:
    run = digests_send_due()
    return {"sent": run.sent, "failed": run.failed, "organizations": run.organizations}


@shared_task
def inbox_rollups_update_task() -> dict:
    """Count what the outbox recorded since the last run into the inbox rollups."""
    return {"events": inbox_rollups_update()}
