"""The queue layout: long maintenance work never shares a worker slot with the sweeps
that bring lost work back, and no task can hold a worker forever."""

import re

from config.celery import QUEUES, SWEEP_TASKS
from config.celery import app as celery_app
from reconciliation.schedules import PERIODIC_TASKS
from tests.worker import ROOT


def _queue_of(task_name: str) -> str:
    return celery_app.amqp.router.route({}, task_name)["queue"].name


def _procfile_workers() -> dict[str, set[str]]:
    workers = {}
    for line in (ROOT / "Procfile.dev").read_text().splitlines():
        name, _, command = line.partition(":")
        if " worker " in command:
            workers[name] = set(re.search(r"--queues (\S+)", command).group(1).split(","))
    return workers


def test_every_schedule_is_sent_to_the_queue_its_task_is_routed_to():
    for spec in PERIODIC_TASKS:
        assert spec.queue == _queue_of(spec.task), spec.name


def test_the_sweeps_run_on_their_own_queue_and_long_work_on_maintenance():
    assert {_queue_of(name) for name in SWEEP_TASKS} == {"sweeps"}
    for long_task in (
        "reconciliation.tasks.reconciliation_run_task",
        "templates.tasks.templates_sync_all_task",
        "webhooks.tasks.webhook_events_purge_task",
    ):
        assert _queue_of(long_task) == "maintenance"


def test_make_run_serves_every_queue_and_maintenance_with_a_worker_of_its_own():
    workers = _procfile_workers()

    assert set().union(*workers.values()) == set(QUEUES)
    with_maintenance = [queues for queues in workers.values() if "maintenance" in queues]
    assert with_maintenance == [{"maintenance"}]  # alone: it never holds a sweep's slot


def test_every_task_has_a_time_limit_below_the_brokers_visibility_timeout(settings):
    celery_app.loader.import_default_modules()
    ours = [task for name, task in celery_app.tasks.items() if not name.startswith("celery.")]

    assert ours
    for task in ours:
        assert 0 < task.soft_time_limit < task.time_limit < 3600, task.name
    assert celery_app.conf.worker_max_tasks_per_child
    assert celery_app.conf.worker_max_memory_per_child
