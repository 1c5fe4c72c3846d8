"""PostgreSQL drops every connection (a restart, a failover): the worker heals within
seconds, idle or under load, with no one restarting it.

Before the fix a worker child kept its dead connection (CELERY_DB_REUSE_MAX, and no
health check outside Django's request cycle): every later task on it failed, the
sweep and result writes included, until someone restarted the worker.
"""

import time
from contextlib import contextmanager

import pytest
from django.db import connection
from django_celery_results.models import TaskResult

from providers import Provider
from tests.factories import OrganizationFactory
from tests.reliability.load import (
    WebhookLoad,
    all_applied,
    assert_applied_exactly_once,
    database_backends_terminate,
    sweeper,
)
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint
from tests.worker import celery_worker, free_port, process_env, wait_for, web_server
from webhooks.tasks import webhook_events_sweep_task

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]


@pytest.fixture
def whatsapp_endpoint():
    if connection.vendor != "postgresql":
        pytest.skip("Terminates PostgreSQL backends (CI runs it against PostgreSQL).")
    return Endpoint(
        Provider.WHATSAPP_CLOUD, make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)
    )


@contextmanager
def processes(tmp_path, *, lease_seconds: int):
    """Web, a production-like worker and the sweep."""
    web_port = free_port()
    env = process_env(WEBHOOK_PROCESSING_LEASE_SECONDS=str(lease_seconds))
    with (
        web_server(port=web_port, env=env, log_dir=tmp_path),
        celery_worker(
            queues="webhooks,sweeps",
            env=env,
            log_dir=tmp_path,
            pool="prefork",
            concurrency=2,
            production_like=True,
        ) as worker,
        sweeper(env=env, log_dir=tmp_path),
    ):
        worker.wait_ready()
        yield web_port, worker


def test_an_idle_worker_heals_after_postgresql_drops_its_connections(whatsapp_endpoint, tmp_path):
    # A lease beyond the test: only each webhook's own task can apply it, not the sweep.
    with processes(tmp_path, lease_seconds=600) as (web_port, worker):
        with WebhookLoad(whatsapp_endpoint, web_port) as load:
            load.wait_for_acknowledged(10)
        wait_for(all_applied)  # both children have used (and kept) a connection
        time.sleep(1.5)  # and finished: no task waits for more webhooks

        assert database_backends_terminate() > 0
        time.sleep(1)  # idle, with dead connections
        sweeps = [webhook_events_sweep_task.delay().id for _ in range(4)]  # both children
        with WebhookLoad(whatsapp_endpoint, web_port, first=1000) as more:
            more.wait_for_acknowledged(10)

        assert_applied_exactly_once(load.acknowledged + more.acknowledged, timeout=15)
        wait_for(lambda: _succeeded(sweeps), timeout=15)  # their results written too
        assert worker.process.poll() is None


def _succeeded(task_ids: list[str]) -> bool:
    return TaskResult.objects.filter(task_id__in=task_ids, status="SUCCESS").count() == len(
        task_ids
    )


def test_a_worker_under_load_heals_after_postgresql_drops_its_connections(
    whatsapp_endpoint, tmp_path
):
    # A short lease: events a dying connection was applying are retaken by the sweep.
    with (
        processes(tmp_path, lease_seconds=2) as (web_port, worker),
        WebhookLoad(whatsapp_endpoint, web_port) as load,
    ):
        for _ in range(3):
            load.wait_for_acknowledged(len(load.acknowledged) + 20)
            assert database_backends_terminate() > 0
        load.wait_for_acknowledged(len(load.acknowledged) + 20)
        load.__exit__()

        assert_applied_exactly_once(load.acknowledged, timeout=20)
        assert worker.process.poll() is None
