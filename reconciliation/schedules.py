"""Every periodic task, declared in one place.

`setup_periodic_tasks` writes these into django-celery-beat's tables, where operators
edit them in the admin. It creates what is missing and never touches a schedule that
already exists, so an operator's change survives deploys; `--reset NAME` puts one back
to what is declared here. Later capabilities add their schedules to this list.

This module lives in the topmost app because it names tasks of every app below it
(by their dotted names only: nothing is imported).
"""

from dataclasses import dataclass

from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


@dataclass(frozen=True)
class PeriodicTaskSpec:
    name: str
    task: str
    queue: str
    # Seconds after which a queued run is dropped instead of piling up behind an outage.
    expires: int
    description: str
    cron: str = ""  # "minute hour day-of-month month day-of-week", UTC
    every_seconds: int = 0


PERIODIC_TASKS = [
    PeriodicTaskSpec(
        name="Purge old task results",
        task="tenants.tasks.task_results_purge",
        cron="30 3 * * *",  # every day at 03:30 UTC, a quiet hour
        queue="maintenance",
        expires=6 * 3600,
        description="Deletes Celery task results older than TASK_RESULT_RETENTION_DAYS.",
    ),
    PeriodicTaskSpec(
        name="Retry due webhooks",
        task="webhooks.tasks.webhook_events_sweep_task",
        every_seconds=60,  # every minute: the shortest backoff step is one minute
        queue="sweeps",
        expires=55,
        description="Enqueues failed webhooks whose retry is due, and events whose task "
        "or worker was lost (stuck in received/processing past the lease).",
    ),
    PeriodicTaskSpec(
        name="Check webhook failure rate",
        task="webhooks.tasks.webhook_failure_rate_check_task",
        cron="5 * * * *",  # hourly, five past
        queue="maintenance",
        expires=50 * 60,
        description="Emails an organization when too many of its last hour's webhooks "
        "failed (WEBHOOK_FAILURE_RATE_THRESHOLD).",
    ),
    PeriodicTaskSpec(
        name="Close expired windows",
        task="conversations.tasks.windows_close_expired_task",
        every_seconds=15 * 60,  # every 15 minutes: the flag is for filters and reports
        queue="maintenance",
        expires=14 * 60,
        description="Brings each conversation's stored is_window_open flag in line with "
        "window_expires_at and the clock (sends never rely on the flag), and reports "
        "counts per organization.",
    ),
    PeriodicTaskSpec(
        name="Announce expiring windows",
        task="conversations.tasks.windows_expiring_record_task",
        # Every minute: the event says "one hour left", so it is at most a minute late
        # (an agent still has 59 minutes), and a run that finds nothing is one indexed
        # statement over the open windows. Runs that overlap record nothing twice.
        every_seconds=60,
        queue="sweeps",
        expires=55,
        description="Records window.expiring in the outbox for each WhatsApp window with "
        "an hour or less left, once per expiry (a customer message that moves the window "
        "brings a new one).",
    ),
    PeriodicTaskSpec(
        name="Reopen snoozed conversations",
        task="conversations.tasks.conversations_unsnooze_task",
        every_seconds=60,  # every minute: a snooze ends within a minute of its time
        queue="sweeps",
        expires=55,
        description="Reopens snoozed conversations whose snoozed_until has come.",
    ),
    PeriodicTaskSpec(
        name="Update campaign reports",
        task="reports.tasks.campaign_rollups_update_task",
        every_seconds=60,  # every minute: the campaign reports trail by about a minute
        queue="maintenance",
        expires=55,
        description="Counts new enrollments and step history (by watermark) and the "
        "outbox's status changes, replies and opt-outs into the campaign report rollups.",
    ),
    PeriodicTaskSpec(
        name="Run campaigns",
        task="campaigns.tasks.campaigns_tick_task",
        every_seconds=60,  # every minute: a step goes within a minute of falling due
        # `default`, not `sweeps`: a tick sends for up to 45 s and must not hold up the
        # short sweeps; two ticks at once are safe (claims skip each other's rows).
        queue="default",
        expires=55,
        description="Starts scheduled campaigns, stops leads who replied (and emails the "
        "campaign's owner), claims due steps of running campaigns and sends them through "
        "the send services, completes finished campaigns.",
    ),
    PeriodicTaskSpec(
        name="Send reply notifications",
        task="integrations.tasks.reply_notifications_task",
        # Every minute: a customer's first message is told within a minute or two (the
        # agents' wait), and the minute gathers a burst of lines into one email; the
        # 15-minute limit per conversation is the notifications' own, not the period's.
        every_seconds=60,
        # `default`, not `sweeps`: a mail server that answers slowly must not hold up
        # the short sweeps.
        queue="default",
        expires=55,
        description="Reads the customer messages filed since the last run from the outbox "
        "and emails each conversation's assignee (or the organization's notification "
        "addresses while it is unassigned), at most once per conversation every 15 "
        "minutes; retries emails the mail server refused.",
    ),
    PeriodicTaskSpec(
        name="Deliver events to subscriptions",
        task="integrations.tasks.deliveries_pump_task",
        # Every 10 s, each run polling for 10 s (INTEGRATIONS_PUMP_SECONDS) every 0.5 s:
        # an event leaves about half a second after its commit, with no process of its
        # own. Overlapping runs are safe (the cursor and the claims skip each other).
        every_seconds=10,
        queue="integrations",
        expires=9,
        description="Turns new outbox events into deliveries for the matching event "
        "subscriptions and sends what is due (first attempts, retries, deliveries whose "
        "worker died), signed (Standard Webhooks).",
    ),
    PeriodicTaskSpec(
        name="Purge old webhooks",
        task="webhooks.tasks.webhook_events_purge_task",
        cron="15 3 * * *",  # every day at 03:15 UTC
        queue="maintenance",
        expires=6 * 3600,
        description="Deletes processed webhooks after WEBHOOK_RETENTION_PROCESSED_DAYS and "
        "dead ones after WEBHOOK_RETENTION_DEAD_DAYS, in batches.",
    ),
    PeriodicTaskSpec(
        name="Apply message retention",
        task="conversations.tasks.messages_retention_apply_task",
        cron="40 3 * * *",  # every day at 03:40 UTC, after the webhook purge
        queue="maintenance",
        expires=6 * 3600,
        description="Blanks the contents of messages (and their raw webhooks) older than "
        "each organization's message retention, in short batches. Organizations without "
        "one are untouched.",
    ),
    PeriodicTaskSpec(
        name="Update inbox reports",
        task="reports.tasks.inbox_rollups_update_task",
        every_seconds=60,  # every minute: reports trail what happened by a minute at most
        queue="maintenance",
        expires=55,
        description="Counts the outbox's events since the last run into the inbox "
        "reports' rollups (each event once; a run that finds another at work skips).",
    ),
    PeriodicTaskSpec(
        name="Purge old outbox events",
        task="outbox.tasks.outbox_purge_task",
        cron="55 3 * * *",  # every day at 03:55 UTC, after the other purges
        queue="maintenance",
        expires=6 * 3600,
        description="Deletes outbox events older than each organization's outbox "
        "retention (7 days unless set), in batches.",
    ),
    PeriodicTaskSpec(
        name="Purge old deliveries",
        task="integrations.tasks.integrations_purge_task",
        cron="58 3 * * *",  # every day at 03:58 UTC, beside the outbox's purge
        queue="maintenance",
        expires=6 * 3600,
        description="Deletes finished event-subscription deliveries and bot bursts older "
        "than each organization's outbox retention (their payloads copy its events).",
    ),
    PeriodicTaskSpec(
        name="Resume contact erasures",
        task="conversations.tasks.contact_erasures_resume_task",
        every_seconds=10 * 60,  # every 10 minutes: an interrupted erasure is finished soon
        queue="maintenance",
        expires=9 * 60,
        description="Finishes contact erasures that a request or worker left half done "
        "(started more than 10 minutes ago and not completed).",
    ),
    PeriodicTaskSpec(
        name="Send lost outbound messages",
        task="messaging.tasks.messages_queued_sweep_task",
        every_seconds=60,  # every minute: a message waits at most a minute or two more
        queue="sweeps",
        expires=55,
        description="Queues the send of outbound messages whose task was lost (broker down "
        "when they were created) or whose worker died while sending, and sends keyword "
        "auto-replies left pending.",
    ),
    PeriodicTaskSpec(
        name="Send lost LinkedIn invitations",
        task="messaging.tasks.invitations_queued_sweep_task",
        every_seconds=60,  # every minute, like lost messages
        queue="sweeps",
        expires=55,
        description="Queues the send of LinkedIn invitations whose task was lost or whose "
        "worker died while sending (a claimed invitation is never sent twice).",
    ),
    PeriodicTaskSpec(
        name="Purge idempotency keys",
        task="messaging.tasks.idempotency_keys_purge_task",
        cron="45 3 * * *",  # every day at 03:45 UTC
        queue="maintenance",
        expires=6 * 3600,
        description="Forgets the answers kept for Idempotency-Key headers after 24 hours.",
    ),
    PeriodicTaskSpec(
        name="Sync WhatsApp templates",
        task="templates.tasks.templates_sync_all_task",
        cron="20 */6 * * *",  # every 6 hours, at 00:20, 06:20, 12:20 and 18:20 UTC
        queue="maintenance",
        expires=5 * 3600,
        description="Reads every active WhatsApp channel's templates from Meta (one task "
        "per channel): new ones, status, quality and category changes missed by webhooks, "
        "and templates deleted on Meta. A sync stopped by Meta's rate limit waits for the "
        "next run.",
    ),
    PeriodicTaskSpec(
        name="Check webhook health",
        task="reconciliation.tasks.webhook_health_checks_task",
        cron="0 * * * *",  # hourly, on the hour
        queue="maintenance",
        expires=30 * 60,
        description="Sends a test message through every channel whose health check is "
        "enabled (one task per channel); 'Settle webhook health checks' waits for its "
        "webhook.",
    ),
    PeriodicTaskSpec(
        name="Settle webhook health checks",
        task="reconciliation.tasks.webhook_health_checks_settle_task",
        every_seconds=60,  # every minute: a check is settled within a minute of its answer
        queue="sweeps",
        expires=55,
        description="Marks pending health checks confirmed (their webhook arrived), send "
        "failed, or timed out after WEBHOOK_HEALTH_CHECK_TIMEOUT_SECONDS, and emails the "
        "organization when a channel starts failing or recovers.",
    ),
    PeriodicTaskSpec(
        name="Purge old webhook health checks",
        task="reconciliation.tasks.webhook_health_checks_purge_task",
        cron="50 3 * * *",  # every day at 03:50 UTC
        queue="maintenance",
        expires=6 * 3600,
        description="Deletes health checks older than WEBHOOK_HEALTH_CHECK_RETENTION_DAYS.",
    ),
    PeriodicTaskSpec(
        name="Reconcile with providers",
        task="reconciliation.tasks.reconciliation_daily_task",
        cron="0 2 * * *",  # every day at 02:00 UTC
        queue="maintenance",
        expires=6 * 3600,
        description="For every active channel, reads the last RECONCILIATION_LOOKBACK_HOURS "
        "of messages from OpenPhone, Twilio and Unipile (WhatsApp: its templates) and "
        "applies what webhooks missed; one run each, visible in the admin.",
    ),
    PeriodicTaskSpec(
        name="Reconcile LinkedIn relations",
        task="reconciliation.tasks.relations_reconcile_daily_task",
        cron="15 2 * * *",  # every day at 02:15 UTC, after the message reconciliation
        queue="maintenance",
        expires=6 * 3600,
        description="For every active LinkedIn (Unipile) channel, reads the relations "
        "added in the last RELATIONS_LOOKBACK_HOURS and accepts the invitations whose "
        "new_relation webhook never came; one run each, visible in the admin.",
    ),
    PeriodicTaskSpec(
        name="Sweep reconciliation runs",
        task="reconciliation.tasks.reconciliation_runs_sweep_task",
        every_seconds=60,  # every minute: a lost run is noticed a minute after its lease
        queue="sweeps",
        expires=55,
        description="Fails runs whose worker stopped (their lease ran out: killed, "
        "restarted, over the time limit), saying how to resume them, and queues again "
        "runs whose task was lost.",
    ),
    PeriodicTaskSpec(
        name="Check daily message counts",
        task="reconciliation.tasks.reconciliation_integrity_task",
        cron="30 2 * * 1",  # every Monday at 02:30 UTC
        queue="maintenance",
        expires=12 * 3600,
        description="Compares the provider's per-day message counts of the last 7 days "
        "with ours and lists the days that differ in the run's findings.",
    ),
]


@dataclass(frozen=True)
class InstallReport:
    created: list[str]
    kept: list[str]
    reset: list[str]
    undeclared: list[str]


@transaction.atomic
def periodic_tasks_install(
    *, specs: list[PeriodicTaskSpec] = PERIODIC_TASKS, reset: frozenset[str] = frozenset()
) -> InstallReport:
    unknown = reset - {spec.name for spec in specs}
    if unknown:
        raise ValueError(f"Not declared, cannot reset: {sorted(unknown)}")
    created, kept, was_reset = [], [], []
    for spec in specs:
        existing = PeriodicTask.objects.filter(name=spec.name).first()
        if existing is None:
            PeriodicTask.objects.create(name=spec.name, **_declared_fields(spec))
            created.append(spec.name)
        elif spec.name in reset:
            PeriodicTask.objects.filter(pk=existing.pk).update(**_declared_fields(spec))
            was_reset.append(spec.name)
        else:
            kept.append(spec.name)
    declared = {spec.name for spec in specs}
    undeclared = sorted(
        set(PeriodicTask.objects.exclude(name__in=declared).values_list("name", flat=True))
    )
    return InstallReport(created, kept, was_reset, undeclared)


def _declared_fields(spec: PeriodicTaskSpec) -> dict:
    fields = {
        "task": spec.task,
        "queue": spec.queue,
        "expire_seconds": spec.expires,
        "description": spec.description,
        "enabled": True,
        "crontab": None,
        "interval": None,
    }
    if spec.cron:
        minute, hour, day_of_month, month_of_year, day_of_week = spec.cron.split()
        fields["crontab"], _ = CrontabSchedule.objects.get_or_create(
            minute=minute,
            hour=hour,
            day_of_month=day_of_month,
            month_of_year=month_of_year,
            day_of_week=day_of_week,
            timezone="UTC",
        )
    else:
        fields["interval"], _ = IntervalSchedule.objects.get_or_create(
            every=spec.every_seconds, period=IntervalSchedule.SECONDS
        )
    return fields
