import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from rest_framework.test import APIClient

from config.celery import app as celery_app
from tenants.models import Role
from tests.factories import ChannelFactory, MembershipFactory, OrganizationFactory
from webhooks.queueing import broker_backoff_reset, wake_coverage_reset, webhook_wakeup_taken


def pytest_addoption(parser):
    parser.addoption(
        "--clock-shift-days",
        type=int,
        default=0,
        help="Run as if today were this many days later: a test that dated its data from "
        "a fixed day instead of freezing the clock fails (CI runs the suite this way too).",
    )


def pytest_configure(config):
    """In CI the suite must run against the real services; never quietly on SQLite."""
    _shift_clock(config.getoption("--clock-shift-days"))
    if not os.environ.get("CI"):
        return
    missing = []
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        missing.append("DATABASE_URL (PostgreSQL)")
    if not os.environ.get("REDIS_URL", "").startswith("redis://"):
        missing.append("REDIS_URL")
    if missing:
        pytest.exit(f"CI is set but {', '.join(missing)} is not: refusing to run.", returncode=3)


def _shift_clock(days: int) -> None:
    if days:
        # Started for the whole session; tests that travel themselves nest inside it.
        traveller = time_machine.travel(datetime.now(UTC) + timedelta(days=days), tick=True)
        traveller.start()


@pytest.fixture(autouse=True)
def celery_eager(request, settings):
    """Tasks run in the test process, unless a test needs a real worker and broker."""
    if request.node.get_closest_marker("real_broker"):
        yield
        return
    # An eager task runs inside the request that stored the webhook; waiting out the
    # wake-up coalescing there would only slow every test down. test_queueing covers it,
    # and the real-broker tests run with it.
    settings.WEBHOOK_WAKE_COALESCE_MS = 0
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False
    celery_app.conf.task_eager_propagates = False


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2 is slow on purpose; tests that create fifty members paid for it in minutes.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_broker_backoff():
    broker_backoff_reset()
    webhook_wakeup_taken()  # no wake-up flag left over from another test
    wake_coverage_reset()


@pytest.fixture
def organization():
    return OrganizationFactory()


@pytest.fixture
def other_organization():
    return OrganizationFactory()


@pytest.fixture
def channel(organization):
    return ChannelFactory(organization=organization)


def _client_for(organization, role: Role) -> APIClient:
    membership = MembershipFactory(organization=organization, role=role)
    client = APIClient()
    client.force_authenticate(user=membership.user)
    client.user = membership.user
    return client


@pytest.fixture
def admin_client(organization):
    return _client_for(organization, Role.ADMIN)


@pytest.fixture
def agent_client(organization):
    return _client_for(organization, Role.AGENT)


@pytest.fixture
def viewer_client(organization):
    return _client_for(organization, Role.VIEWER)


@pytest.fixture
def anonymous_client():
    return APIClient()
