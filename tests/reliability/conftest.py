import pytest

from config.celery import app as celery_app


@pytest.fixture(autouse=True)
def _empty_task_queues():
    """No task left in the test broker by an earlier test: a stale webhook task would
    take this test's webhooks (it claims every waiting one) with its own options."""
    celery_app.control.purge()
