"""A Redis outage under webhook load: the worker survives it and applies everything.

Before the fix the worker died on reconnecting ("Unrecoverable error: AttributeError:
'NoneType' object has no attribute 'hostname'", from kombu restoring its unacknowledged
messages through a connection it had already let go of), and nothing was processed
after Redis came back until someone restarted it.
"""

import time

import pytest
from django.db import connection

from providers import Provider
from tests.factories import OrganizationFactory
from tests.reliability.load import WebhookLoad, assert_applied_exactly_once, sweeper
from tests.webhooks.conftest import make_channel
from tests.webhooks.delivery import Endpoint
from tests.worker import celery_worker, free_port, process_env, restartable_redis, web_server

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.real_broker]


@pytest.fixture
def whatsapp_endpoint():
    return Endpoint(
        Provider.WHATSAPP_CLOUD, make_channel(OrganizationFactory(), Provider.WHATSAPP_CLOUD)
    )


def test_the_worker_survives_redis_stopping_and_starting_under_load(whatsapp_endpoint, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("Several processes writing at once under load need PostgreSQL (CI has it).")
    redis_port, web_port = free_port(), free_port()
    env = process_env(
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", WEBHOOK_PROCESSING_LEASE_SECONDS="2"
    )

    with (
        restartable_redis(redis_port) as redis,
        web_server(port=web_port, env=env, log_dir=tmp_path),
        celery_worker(
            queues="webhooks",
            env=env,
            log_dir=tmp_path,
            pool="prefork",
            concurrency=2,
            production_like=True,
        ) as worker,
        sweeper(env=env, log_dir=tmp_path),
        WebhookLoad(whatsapp_endpoint, web_port) as load,
    ):
        worker.wait_ready()
        load.wait_for_acknowledged(30)
        for _ in range(2):  # the broker goes away while the worker holds unacked tasks
            redis.stop()
            time.sleep(2)
            redis.start()  # and comes back on the same address
            load.wait_for_acknowledged(len(load.acknowledged) + 30)
        load.__exit__()
        assert_applied_exactly_once(load.acknowledged)
        assert worker.process.poll() is None, worker.log()[-3000:]

    assert "Unrecoverable error" not in worker.log()
