"""Integrations' Celery tasks: each takes ids or nothing and calls a service."""

from celery import shared_task

from integrations.notifications import reply_notifications_run


# Every minute (reconciliation.schedules), on `default`: it talks to the mail server,
# which may be slow, so not among the short sweeps. Two at once are safe: one holds the
# reader's cursor, and each email is claimed with SKIP LOCKED.
@shared_task(ignore_result=True)
def reply_notifications_task() -> dict:
    return reply_notifications_run()
