from celery import shared_task

from reports.campaign_rollups import campaign_rollups_update
from reports.inbox_rollup import inbox_rollups_update


@shared_task
def inbox_rollups_update_task() -> dict:
    """Count what the outbox recorded since the last run into the inbox rollups."""
    return {"events": inbox_rollups_update()}


# Every minute (reconciliation.schedules), on `maintenance`: a pass reads at most a page
# of each source, so the reports trail what happened by about a minute. Two passes at
# once are safe: the second finds the lock taken and returns.
@shared_task(ignore_result=True)
def campaign_rollups_update_task() -> dict | None:
    return campaign_rollups_update()
