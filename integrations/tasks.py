"""Integrations' Celery tasks: each takes ids or nothing and calls a service. They only
wake the work: what is to be delivered or mailed, and how far it got, is in PostgreSQL."""

from celery import shared_task
from django.conf import settings

from integrations.notifications import reply_notifications_run
from integrations.retention import integrations_purge
from integrations.sending import deliveries_pump, deliveries_send_all


# Every minute (reconciliation.schedules), on `default`: it talks to the mail server,
# which may be slow, so not among the short sweeps. Two at once are safe: one holds the
# reader's cursor, and each email is claimed with SKIP LOCKED.
@shared_task(ignore_result=True)
def reply_notifications_task() -> dict:
    return reply_notifications_run()


@shared_task
def deliveries_pump_task() -> dict:
    """Fan out new outbox events and send due deliveries, polling for a few seconds."""
    return deliveries_pump(
        seconds=settings.INTEGRATIONS_PUMP_SECONDS, poll=settings.INTEGRATIONS_POLL_SECONDS
    )


@shared_task
def deliveries_send_task() -> dict:
    """Send what is due now (after a replay or a test event), without waiting for the
    pump."""
    return {"sent": deliveries_send_all(budget_seconds=50)}


@shared_task
def integrations_purge_task() -> dict:
    """Forget finished deliveries and bursts after their organization's retention."""
    return {"deleted": integrations_purge()}
