from celery import shared_task

from conversations import maintenance
from conversations.erasure import contact_erasures_resume_stalled
from conversations.retention import messages_retention_apply


@shared_task
def windows_close_expired_task() -> dict:
    """Bring every conversation's is_window_open flag in line with the clock."""
    return maintenance.windows_close_expired().as_dict()


@shared_task
def windows_expiring_record_task() -> dict:
    """Record window.expiring for windows with an hour or less left, once each."""
    return {"recorded": maintenance.windows_expiring_record()}


@shared_task
def conversations_unsnooze_task() -> dict:
    """Reopen snoozed conversations whose time has come."""
    return {"reopened": maintenance.conversations_unsnooze_due()}


@shared_task
def messages_retention_apply_task() -> dict:
    """Blank the contents of messages past their organization's retention."""
    return messages_retention_apply()


@shared_task
def contact_erasures_resume_task() -> dict:
    """Finish erasures that a dead request or worker left half done."""
    return {"resumed": contact_erasures_resume_stalled()}
