from celery import shared_task

from reports.inbox_rollup import inbox_rollups_update


@shared_task
def inbox_rollups_update_task() -> dict:
    """Count what the outbox recorded since the last run into the inbox rollups."""
    return {"events": inbox_rollups_update()}
