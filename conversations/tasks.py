from celery import shared_task

from conversations import maintenance


@shared_task
def windows_close_expired_task() -> dict:
    """Bring every conversation's is_window_open flag in line with the clock."""
    return maintenance.windows_close_expired().as_dict()


@shared_task
def conversations_unsnooze_task() -> dict:
    """Reopen snoozed conversations whose time has come."""
    return {"reopened": maintenance.conversations_unsnooze_due()}
