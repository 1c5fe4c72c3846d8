import subprocess
import sys

import pytest
from django_celery_results.models import TaskResult

from tenants.tasks import task_results_purge
from tests.worker import ROOT, celery_worker, process_env, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]

SEND_PURGE = (
    "import django; django.setup();"
    "from tenants.tasks import task_results_purge;"
    "print(task_results_purge.delay().id)"
)


def _finished(task_id: str):
    return lambda: TaskResult.objects.filter(task_id=task_id, status="SUCCESS").first()


def test_a_worker_process_runs_a_task_from_its_queue_and_stores_the_result(tmp_path):
    with celery_worker(queues="maintenance", env=process_env(), log_dir=tmp_path):
        task_id = task_results_purge.delay().id

        result = wait_for(_finished(task_id))

    assert result.task_name == "tenants.tasks.task_results_purge"
    assert result.result == '{"deleted": 0}'


def test_a_worker_on_other_queues_does_not_take_maintenance_tasks(tmp_path):
    with celery_worker(queues="webhooks,outbound", env=process_env(), log_dir=tmp_path) as worker:
        task_id = task_results_purge.delay().id
        worker.wait_ready()

        with pytest.raises(AssertionError, match="Gave up"):
            wait_for(_finished(task_id), timeout=3)

    with celery_worker(queues="maintenance", env=process_env(), log_dir=tmp_path):
        wait_for(_finished(task_id))  # it waited in its queue, not lost


def test_embedded_broker_runs_tasks_in_a_real_worker_without_redis(tmp_path):
    env = process_env(REDIS_URL="", SWITCHBOARD_VAR_DIR=str(tmp_path))

    with celery_worker(queues="maintenance", env=env, log_dir=tmp_path):
        sent = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
            [sys.executable, "-c", SEND_PURGE],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        task_id = sent.stdout.strip()

        wait_for(_finished(task_id))

    assert (tmp_path / "broker" / "queue").is_dir()  # the embedded broker carried it
