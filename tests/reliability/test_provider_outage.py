"""A provider that cannot be reached during a reconciliation: the run fails on its own
within its bounds, saying how to resume, while webhooks keep being applied.

Before the fix the run retried once a second forever and held its worker slot; with
the sweep on the same queue as reconciliation, lost webhooks waited behind it.
"""

import pytest
from django.db import connection

from providers import Provider
from reconciliation import services
from reconciliation.models import ReconciliationRun, RunStatus, RunTrigger
from reconciliation.tasks import reconciliation_run_task
from tests.factories import OrganizationFactory
from tests.reliability.load import WebhookLoad, assert_applied_exactly_once, sweeper
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint
from tests.worker import celery_worker, free_port, process_env, wait_for, web_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]


def test_an_unreachable_provider_fails_its_run_while_webhooks_are_applied(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("Several processes writing at once under load need PostgreSQL (CI has it).")
    organization = OrganizationFactory()
    whatsapp = Endpoint(
        Provider.WHATSAPP_CLOUD, make_channel(organization, Provider.WHATSAPP_CLOUD)
    )
    twilio = make_channel(organization, Provider.TWILIO, account_id="AC" + "1" * 32)
    web_port = free_port()
    env = process_env(
        TWILIO_API_URL=f"http://127.0.0.1:{free_port()}",  # nothing listens there
        RECONCILIATION_FETCH_ATTEMPTS="4",
        WEBHOOK_PROCESSING_LEASE_SECONDS="2",
    )

    with (
        web_server(port=web_port, env=env, log_dir=tmp_path),
        # The layout of `make run` (Procfile.dev): long work on a worker of its own.
        celery_worker(
            queues="webhooks,sweeps,outbound,default",
            env=env,
            log_dir=tmp_path,
            pool="prefork",
            concurrency=2,
        ) as worker,
        celery_worker(queues="maintenance", env=env, log_dir=tmp_path) as maintenance,
        sweeper(env=env, log_dir=tmp_path),
    ):
        worker.wait_ready()
        maintenance.wait_ready()
        run = services.run_create(channel=twilio, trigger=RunTrigger.API)
        reconciliation_run_task.delay(run.pk)
        with WebhookLoad(whatsapp, web_port) as load:
            wait_for(lambda: _status(run.pk) == RunStatus.RUNNING, timeout=15)
            load.wait_for_acknowledged(30)  # applied while the run retries
            # 1 + 2 + 4 s of backoff between four attempts: well under a minute.
            wait_for(lambda: _status(run.pk) == RunStatus.FAILED, timeout=20)

        assert_applied_exactly_once(load.acknowledged)
        assert worker.process.poll() is None
        assert maintenance.process.poll() is None

    run.refresh_from_db()
    assert "could not be read after 4 attempt(s)" in run.error
    assert f"--resume {run.pk}" in run.error
    assert run.lease_expires_at is None


def _status(run_id: int) -> str:
    return ReconciliationRun.objects.get(pk=run_id).status
