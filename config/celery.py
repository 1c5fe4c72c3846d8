"""The Celery app: queues, routing and delivery guarantees.

Four queues, so that a backlog in one never starves another: `webhooks` (applying
inbound events), `outbound` (provider sends), `maintenance` (sweeps, cleanup,
reconciliation, health checks) and `default`.
"""

import os

from celery import Celery, signals
from django.db import close_old_connections
from kombu import Exchange, Queue

from config.broker import redis_transport_install

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

redis_transport_install()  # a worker must survive a Redis outage: see config.broker
app = Celery("switchboard")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUES = ("webhooks", "default", "outbound", "maintenance")

app.conf.update(
    # Each queue its own exchange and routing key: a shared key would copy every
    # message into every queue.
    task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
    task_default_queue="default",
    task_default_exchange="default",
    task_default_routing_key="default",
    # Which queue each app's tasks run on, in one place.
    task_routes={
        # Exact names win over patterns: applying events on `webhooks`, the webhook
        # housekeeping (sweep, purge, checks) on `maintenance`.
        "webhooks.tasks.webhook_event_process_task": {"queue": "webhooks"},
        "webhooks.tasks.*": {"queue": "maintenance"},
        "messaging.tasks.*": {"queue": "outbound"},
        "reconciliation.tasks.*": {"queue": "maintenance"},
        "tenants.tasks.*": {"queue": "maintenance"},
        "conversations.tasks.*": {"queue": "maintenance"},
        "templates.tasks.*": {"queue": "maintenance"},
    },
    # A task is acknowledged only once it has finished, and put back if its worker
    # dies, so a crash loses nothing; every task must therefore be safe to run twice.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_track_started=True,
    # Publishing must fail fast when the broker is down: the database row is the truth
    # and a periodic sweep picks up whatever could not be enqueued.
    task_publish_retry_policy={
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    },
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)

app.autodiscover_tasks()


@signals.task_prerun.connect
def database_connections_check(sender=None, **kwargs) -> None:
    """Before each task, retire a connection PostgreSQL has dropped (a restart, a
    failover, a terminated backend) or that outlived CONN_MAX_AGE, so the task gets a
    fresh one. Connections are kept between tasks (CELERY_DB_REUSE_MAX), and outside
    Django's request cycle nothing else checks them: a dead one failed every later
    task of its worker child. Eager tasks run inside the caller's transaction, which
    must not be touched."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    close_old_connections()
