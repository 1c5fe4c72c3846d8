"""health_check.failed and .recovered: one outbox event per change of a channel's
webhook health (passing, or never checked, to failing and back), not one per check,
recorded in the transaction that settles the check."""

from datetime import timedelta

import pytest
import time_machine

from outbox.models import OutboxEvent
from reconciliation import health
from reconciliation.models import HealthCheckResult, WebhookHealthCheck
from tests.reconciliation.test_health import (
    T0,
    _confirmed_check,
    _meta_accepts_each_send,
    _settle,
    _timed_out_check,
)

pytestmark = pytest.mark.django_db


def _changes() -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type__startswith="health_check.").order_by("id"))


def test_failing_then_recovering_records_one_event_per_change(
    setting, whatsapp, graph, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    _meta_accepts_each_send(graph)
    with time_machine.travel(T0, tick=False) as clock:
        failed = _timed_out_check(capture, whatsapp)
        clock.shift(timedelta(hours=1))
        _timed_out_check(capture, whatsapp)  # still failing: nothing new
        clock.shift(timedelta(hours=1))
        recovered = _confirmed_check(capture, whatsapp, n=2)
        clock.shift(timedelta(hours=1))
        _confirmed_check(capture, whatsapp, n=3)  # still passing: nothing new

    assert [e.type for e in _changes()] == ["health_check.failed", "health_check.recovered"]
    failure, recovery = _changes()
    assert (failure.organization_id, failure.channel_id) == (whatsapp.organization_id, whatsapp.pk)
    assert failure.body == {
        "health_check_id": failed.pk,
        "channel_id": whatsapp.pk,
        "result": "timed_out",
        "previous_result": "",  # never checked before
        "sent_at": failed.sent_at.isoformat(),
        "latency_ms": None,
        "settled_at": failure.occurred_at.isoformat(),
    }
    assert recovery.body["health_check_id"] == recovered.pk
    assert (recovery.body["result"], recovery.body["previous_result"]) == (
        "confirmed",
        "timed_out",
    )
    assert recovery.body["latency_ms"] == 2000


def test_a_first_check_that_passes_records_nothing(
    setting, whatsapp, graph, django_capture_on_commit_callbacks
):
    _meta_accepts_each_send(graph)
    with time_machine.travel(T0, tick=False):
        _confirmed_check(django_capture_on_commit_callbacks, whatsapp, n=0)

    assert _changes() == []


def test_a_send_refused_at_once_records_failed_in_the_check_s_transaction(
    setting, whatsapp, graph, django_capture_on_commit_callbacks
):
    setting.template_name = ""  # a text, and the test number's window is closed
    setting.save()

    check = health.health_check_run(channel=whatsapp)

    assert check.result == HealthCheckResult.SEND_FAILED
    (event,) = _changes()
    assert (event.type, event.body["result"]) == ("health_check.failed", "send_failed")


def test_a_settle_that_rolls_back_records_nothing_and_the_next_one_does(
    setting, whatsapp, graph, django_capture_on_commit_callbacks, monkeypatch
):
    capture = django_capture_on_commit_callbacks
    _meta_accepts_each_send(graph)
    with time_machine.travel(T0, tick=False) as clock:
        health.health_check_run(channel=whatsapp)
        clock.shift(timedelta(seconds=121))

        def alert_fails(check):
            raise RuntimeError("the alert could not be built")

        monkeypatch.setattr(health, "_failing_alert", alert_fails)
        with pytest.raises(RuntimeError, match="could not be built"):  # after the record
            _settle(capture)
        assert _changes() == []
        assert WebhookHealthCheck.objects.get().result == HealthCheckResult.PENDING
        monkeypatch.undo()

        assert _settle(capture).result == HealthCheckResult.TIMED_OUT

    assert [e.type for e in _changes()] == ["health_check.failed"]
