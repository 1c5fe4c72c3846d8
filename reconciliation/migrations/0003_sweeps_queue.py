"""The every-minute sweeps moved from `maintenance` to their own `sweeps` queue, so they
never wait behind long work (config.celery). Schedules are kept as operators left
them, so this moves only those still on the old declared queue."""

from django.db import migrations

SWEEP_TASKS = (
    "webhooks.tasks.webhook_events_sweep_task",
    "messaging.tasks.messages_queued_sweep_task",
    "conversations.tasks.conversations_unsnooze_task",
    "reconciliation.tasks.webhook_health_checks_settle_task",
)


def sweeps_to_their_queue(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=SWEEP_TASKS, queue="maintenance").update(
        queue="sweeps"
    )


def sweeps_back(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(task__in=SWEEP_TASKS, queue="sweeps").update(
        queue="maintenance"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("reconciliation", "0002_run_lease"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(sweeps_to_their_queue, sweeps_back)]
