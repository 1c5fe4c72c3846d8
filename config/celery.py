"""The Celery app: queues, routing, time limits and delivery guarantees.

Six queues, so that a backlog in one never starves another: `webhooks` (applying
inbound events), `outbound` (provider sends), `sweeps` (the every-minute housekeeping
that re-enqueues lost or due work: it must never wait behind long work), `maintenance`
(long work: reconciliation, template syncs, purges, health checks), `integrations`
(the event subscriptions' pump, which keeps its slot busy polling the outbox) and
`default`. `make run` (Procfile.dev) serves `maintenance` and `integrations` with a
worker each of their own; so must production (README).
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

QUEUES = ("webhooks", "default", "outbound", "sweeps", "maintenance", "integrations")

# Short and frequent: each re-enqueues what is due or lost (see reconciliation.schedules).
SWEEP_TASKS = (
    "webhooks.tasks.webhook_events_sweep_task",
    "messaging.tasks.messages_queued_sweep_task",
    "messaging.tasks.invitations_queued_sweep_task",
    "conversations.tasks.conversations_unsnooze_task",
    "conversations.tasks.windows_expiring_record_task",
    "reconciliation.tasks.webhook_health_checks_settle_task",
    "reconciliation.tasks.reconciliation_runs_sweep_task",
)


class TimeLimits:
    """Soft and hard time limits per task family (settings.TASK_TIME_LIMITS), so no
    task holds a worker slot forever. The soft limit raises SoftTimeLimitExceeded in
    the task, which leaves its work leased in the database for the sweeps (webhook
    events, reconciliation runs, queued sends); the hard limit, a little later, kills
    the pool process if the task ignored it. The message is acknowledged either way
    (Celery acks a timed-out task), so it cannot loop: the lease brings the work back.
    The limits travel in each message, from the sender's settings: web, beat and
    workers must share them (they read the same environment)."""

    def annotate(self, task) -> dict | None:
        from django.conf import settings

        hard = settings.TASK_TIME_LIMITS.get(task_family(task.name))
        if hard is None:
            hard = settings.TASK_TIME_LIMITS["default"]
        return {"time_limit": hard, "soft_time_limit": max(1, round(hard * 0.8))}


def task_family(name: str) -> str:
    if name in SWEEP_TASKS:
        return "sweeps"
    if name == "webhooks.tasks.webhook_event_process_task":
        return "webhooks"
    if name == "reconciliation.tasks.reconciliation_run_task":
        return "reconciliation"
    if name.startswith("messaging.tasks."):
        return "outbound"
    return "default"


app.conf.update(
    # Each queue its own exchange and routing key: a shared key would copy every
    # message into every queue.
    task_queues=[Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES],
    task_default_queue="default",
    task_default_exchange="default",
    task_default_routing_key="default",
    # Which queue each app's tasks run on, in one place.
    task_routes={
        # Exact names win over patterns: applying events on `webhooks`, the sweeps on
        # `sweeps`, the rest of each app's housekeeping on `maintenance`.
        "webhooks.tasks.webhook_event_process_task": {"queue": "webhooks"},
        **{name: {"queue": "sweeps"} for name in SWEEP_TASKS},
        "messaging.tasks.idempotency_keys_purge_task": {"queue": "maintenance"},
        "webhooks.tasks.*": {"queue": "maintenance"},
        "messaging.tasks.*": {"queue": "outbound"},
        "reconciliation.tasks.*": {"queue": "maintenance"},
        "campaigns.tasks.*": {"queue": "default"},
        # The pump polls for INTEGRATIONS_PUMP_SECONDS every 10 s: on `default` it would
        # hold one of the few slots that campaigns and notifications need.
        "integrations.tasks.deliveries_pump_task": {"queue": "integrations"},
        "integrations.tasks.deliveries_send_task": {"queue": "integrations"},
        "integrations.tasks.integrations_purge_task": {"queue": "maintenance"},
        "integrations.tasks.*": {"queue": "default"},
        "tenants.tasks.*": {"queue": "maintenance"},
        "outbox.tasks.*": {"queue": "maintenance"},
        "conversations.tasks.*": {"queue": "maintenance"},
        "templates.tasks.*": {"queue": "maintenance"},
        "reports.tasks.*": {"queue": "maintenance"},
    },
    # A task is acknowledged only once it has finished, and put back if its worker
    # dies, so a crash loses nothing; every task must therefore be safe to run twice.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_track_started=True,
    task_annotations=[TimeLimits()],
    # A pool process is replaced after this many tasks or this much memory (KiB), so a
    # leak or a stuck library state cannot live forever.
    worker_max_tasks_per_child=1000,
    worker_max_memory_per_child=512 * 1024,
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
