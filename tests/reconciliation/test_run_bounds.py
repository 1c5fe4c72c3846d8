"""Reconciliation never holds a worker forever: retries are bounded in attempts and
time, a failed run says how to resume, and a run whose worker is gone is swept."""

from datetime import timedelta

import httpx
import pytest
import respx
from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from providers import Provider
from reconciliation import paging, services
from reconciliation.models import ReconciliationRun, RunStatus, RunTrigger
from reconciliation.tasks import reconciliation_runs_sweep_task
from tests.reconciliation.test_runs import (
    LIST_URL,
    SID,
    SINCE,
    UNTIL,
    _message,
    _next_uri,
    _page,
    _pages,
)
from tests.webhooks.conftest import make_channel

pytestmark = pytest.mark.django_db


@pytest.fixture
def twilio(organization):
    return make_channel(organization, Provider.TWILIO, account_id=SID, window_policy="always_open")


class FakeClock:
    """time.monotonic and time.sleep of the services module: sleeping moves the clock."""

    def __init__(self) -> None:
        self.now, self.waits = 1000.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(paging.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(paging.time, "sleep", fake.sleep)
    return fake


def _run(channel):
    run = services.run_create(channel=channel, trigger=RunTrigger.COMMAND, since=SINCE, until=UNTIL)
    return services.run_execute(run_id=run.pk)


@respx.mock
def test_an_unreachable_provider_fails_the_run_after_a_few_attempts(twilio, clock, settings):
    settings.RECONCILIATION_FETCH_ATTEMPTS = 5
    route = respx.get(url__startswith=LIST_URL).mock(side_effect=httpx.ConnectError("refused"))

    run = _run(twilio)

    assert route.call_count == 5
    assert clock.waits == [1.0, 2.0, 4.0, 8.0]  # a backoff, not once a second forever
    assert run.status == RunStatus.FAILED
    assert "could not be read after 5 attempt(s)" in run.error
    assert f"manage.py reconcile --resume {run.pk}" in run.error
    assert run.lease_expires_at is None


@respx.mock
def test_retries_stop_when_their_time_is_up(twilio, clock, settings):
    settings.RECONCILIATION_FETCH_ATTEMPTS = 100
    settings.RECONCILIATION_FETCH_SECONDS = 60
    respx.get(url__startswith=LIST_URL).mock(
        return_value=httpx.Response(503, headers={"Retry-After": "25"})
    )

    run = _run(twilio)

    assert clock.waits == [25.0, 25.0]  # a third wait would end past 60 s
    assert run.status == RunStatus.FAILED
    assert "after 3 attempt(s)" in run.error


@respx.mock
def test_a_provider_back_within_the_retries_completes_the_run(twilio, clock):
    respx.get(url__startswith=LIST_URL).mock(
        side_effect=[
            httpx.ConnectError("refused"),
            httpx.ReadTimeout("slow"),
            *_pages([_message(1)]),
        ]
    )

    run = _run(twilio)

    assert (run.status, run.created, run.error) == (RunStatus.SUCCEEDED, 1, "")
    assert clock.waits == [1.0, 2.0]


def test_a_run_whose_worker_is_gone_is_failed_by_the_sweep_with_how_to_resume(twilio):
    run = services.run_create(channel=twilio, trigger=RunTrigger.SCHEDULE, since=SINCE, until=UNTIL)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    swept = reconciliation_runs_sweep_task()

    run.refresh_from_db()
    assert swept["failed"] == [run.pk]
    assert run.status == RunStatus.FAILED
    assert "Its worker stopped" in run.error
    assert f"--resume {run.pk}" in run.error


def test_a_running_run_with_a_live_lease_is_neither_swept_nor_taken_twice(twilio):
    run = services.run_create(channel=twilio, trigger=RunTrigger.SCHEDULE, since=SINCE, until=UNTIL)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        status=RunStatus.RUNNING, lease_expires_at=timezone.now() + timedelta(minutes=5)
    )

    assert reconciliation_runs_sweep_task() == {"failed": [], "requeued": []}
    again = services.run_execute(run_id=run.pk)  # a second task for the same run

    assert again.status == RunStatus.RUNNING  # left to the worker that holds it


@respx.mock
def test_a_queued_run_whose_task_was_lost_is_queued_again_and_runs(twilio):
    respx.get(url__startswith=LIST_URL).mock(side_effect=_pages([_message(1)]))
    run = services.run_create(channel=twilio, trigger=RunTrigger.API, since=SINCE, until=UNTIL)
    ReconciliationRun.objects.filter(pk=run.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    swept = reconciliation_runs_sweep_task()  # eager: the re-queued task runs here

    run.refresh_from_db()
    assert swept["requeued"] == [run.pk]
    assert (run.status, run.created) == (RunStatus.SUCCEEDED, 1)


@respx.mock
def test_every_saved_page_renews_the_lease(twilio, settings):
    settings.RECONCILIATION_RUN_LEASE_SECONDS = 300
    seen = []
    respx.get(url__startswith=LIST_URL).mock(side_effect=_pages([_message(1)], [_message(2)]))
    run = services.run_create(channel=twilio, trigger=RunTrigger.COMMAND, since=SINCE, until=UNTIL)

    services.run_execute(
        run_id=run.pk,
        on_progress=lambda r: seen.append(
            ReconciliationRun.objects.get(pk=r.pk).lease_expires_at - timezone.now()
        ),
    )

    assert len(seen) == 2
    assert all(timedelta(seconds=290) < left <= timedelta(seconds=300) for left in seen)


@respx.mock
def test_a_run_stopped_by_its_time_limit_keeps_its_place_and_resumes(twilio, monkeypatch):
    route = respx.get(url__startswith=LIST_URL).mock(
        side_effect=[_page([_message(1)], _next_uri(1)), SoftTimeLimitExceeded()]
    )
    run = services.run_create(channel=twilio, trigger=RunTrigger.API, since=SINCE, until=UNTIL)

    with pytest.raises(SoftTimeLimitExceeded):  # the task ends; its worker is free
        services.run_execute(run_id=run.pk)

    run.refresh_from_db()
    assert (run.status, run.created) == (RunStatus.FAILED, 1)
    assert "Stopped by SoftTimeLimitExceeded" in run.error
    assert f"--resume {run.pk}" in run.error
    route.side_effect = [_page([_message(2)], None)]
    resumed = services.run_execute(run_id=run.pk)
    assert (resumed.status, resumed.created) == (RunStatus.SUCCEEDED, 2)
    assert "PageToken=PA1" in str(route.calls.last.request.url)  # from where it stopped
