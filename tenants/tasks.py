from celery import shared_task

from tenants import maintenance


@shared_task
def task_results_purge() -> dict:
    """Delete Celery task results older than TASK_RESULT_RETENTION_DAYS."""
    return {"deleted": maintenance.task_results_purge()}
