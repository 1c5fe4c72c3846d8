from celery import shared_task

from outbox.services import outbox_purge


@shared_task
def outbox_purge_task() -> dict:
    """Forget events older than their organization's outbox retention."""
    return {"deleted": outbox_purge()}
