"""Celery entry points: each takes ids (or nothing) and calls a service.

None of them retries a failed event with Celery: that is rescheduled in the database
by `webhook_event_fail`, and the sweep enqueues it when it is due. Only a lost database
connection (PostgreSQL restarted, a failover) is retried here, a second later on a
fresh connection (config.celery), rather than waiting out the events' lease.
"""

from celery import shared_task
from django.db import InterfaceError, OperationalError

from webhooks import services
from webhooks.processing import webhook_event_process
from webhooks.queueing import webhook_wakeup_taken


@shared_task(
    ignore_result=True,  # the WebhookEvent row is the record
    autoretry_for=(OperationalError, InterfaceError),
    retry_kwargs={"max_retries": 5, "countdown": 1},
)
def webhook_event_process_task(event_id: int) -> str:
    claim_until = webhook_wakeup_taken()  # before claiming: see webhooks.queueing
    return webhook_event_process(event_id=event_id, claim_until=claim_until)


@shared_task
def webhook_events_sweep_task() -> dict:
    return services.webhook_events_sweep()


@shared_task
def webhook_events_purge_task() -> dict:
    return services.webhook_events_purge()


@shared_task
def webhook_failure_rate_check_task() -> list[dict]:
    return services.webhook_failure_rate_check()
