from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from reconciliation.schedules import PERIODIC_TASKS
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PURGE = "Purge old task results"


def _setup(*args) -> str:
    out = StringIO()
    call_command("setup_periodic_tasks", *args, stdout=out)
    return out.getvalue()


def test_declares_every_schedule_with_queue_and_expiry():
    _setup()

    tasks = {task.name: task for task in PeriodicTask.objects.all()}
    assert set(tasks) == {spec.name for spec in PERIODIC_TASKS}
    purge = tasks[PURGE]
    assert (purge.task, purge.queue, purge.expire_seconds) == (
        "tenants.tasks.task_results_purge",
        "maintenance",
        6 * 3600,
    )
    assert (purge.crontab.minute, purge.crontab.hour) == ("30", "3")


def test_running_again_changes_nothing():
    _setup()
    before = list(PeriodicTask.objects.values())

    output = _setup()

    assert list(PeriodicTask.objects.values()) == before
    assert f"kept     {PURGE}" in output


def test_an_operators_edit_survives_and_reset_restores_the_declared_schedule():
    _setup()
    edited = CrontabSchedule.objects.create(minute="0", hour="5", timezone="UTC")
    PeriodicTask.objects.filter(name=PURGE).update(crontab=edited, enabled=False)

    _setup()
    kept = PeriodicTask.objects.get(name=PURGE)
    assert (kept.crontab.hour, kept.enabled) == ("5", False)

    _setup("--reset", PURGE)
    restored = PeriodicTask.objects.get(name=PURGE)
    assert (restored.crontab.hour, restored.enabled) == ("3", True)


def test_reset_of_an_unknown_schedule_is_an_error():
    with pytest.raises(CommandError, match="Not declared"):
        _setup("--reset", "No such schedule")


def test_schedules_operators_added_are_listed_and_left_alone():
    _setup()
    interval = CrontabSchedule.objects.create(minute="*/5", timezone="UTC")
    PeriodicTask.objects.create(name="Operator's own", task="x.y", crontab=interval)

    output = _setup()

    assert "other    Operator's own" in output
    assert PeriodicTask.objects.filter(name="Operator's own").exists()


def test_the_admin_says_when_each_schedule_runs_in_words(client):
    _setup()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    page = client.get("/admin/django_celery_beat/periodictask/").content.decode()

    assert "At 02:00 AM UTC" in page  # reconcile with providers, daily
    assert "Every minute<" in page  # the sweep, an interval beat stores as 60 seconds
    assert "Every 15 minutes<" in page
    assert "At 02:30 AM, only on Monday UTC" in page  # the weekly count check
