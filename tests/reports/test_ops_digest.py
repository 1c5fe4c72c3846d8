"""The operators' daily email: the last 24 hours, counted by hand here."""

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import time_machine
from django.core import mail

from providers import Provider
from reconciliation.models import (
    HealthCheckResult,
    ReconciliationRun,
    RunKind,
    RunStatus,
    RunTrigger,
    WebhookHealthCheck,
)
from reports.alert_models import AlertIncident, AlertKind
from reports.ops_digest import ops_digest_send
from reports.tasks import ops_digest_send_task
from tests.factories import ChannelFactory
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
_keys = count()


@pytest.fixture(autouse=True)
def operators(settings):
    settings.ADMINS = [("Operators", "ops@switchboard.test")]


def event(channel, status, *, ago: timedelta, error: str = "") -> WebhookEvent:
    return WebhookEvent.objects.create(
        provider=channel.provider,
        channel=channel,
        organization=channel.organization,
        body=b"{}",
        received_at=T0 - ago,
        dedupe_key=f"digest-{next(_keys)}",
        status=status,
        last_error=error,
    )


def run(channel, kind, status, *, ago: timedelta, **fields) -> ReconciliationRun:
    return ReconciliationRun.objects.create(
        organization=channel.organization,
        channel=channel,
        kind=kind,
        window_start=T0 - timedelta(days=2),
        window_end=T0,
        trigger=RunTrigger.SCHEDULE,
        status=status,
        finished_at=T0 - ago,
        **fields,
    )


def check(channel, result, *, ago: timedelta) -> None:
    WebhookHealthCheck.objects.create(
        organization=channel.organization, channel=channel, sent_at=T0 - ago, result=result
    )


@pytest.fixture
def day(organization):
    whatsapp = ChannelFactory(
        organization=organization, provider=Provider.WHATSAPP_CLOUD, name="Support WA"
    )
    sms = ChannelFactory(organization=organization, provider=Provider.TWILIO, name="Sales SMS")
    hour = timedelta(hours=1)
    for _ in range(3):
        event(whatsapp, EventStatus.PROCESSED, ago=2 * hour)
    event(whatsapp, EventStatus.FAILED, ago=3 * hour)
    dead = event(whatsapp, EventStatus.DEAD, ago=5 * hour, error="KeyError: 'entry'\ntraceback")
    event(sms, EventStatus.PROCESSED, ago=hour)
    event(sms, EventStatus.PROCESSED, ago=23 * hour)
    event(sms, EventStatus.DEAD, ago=30 * hour)  # the day before: waiting, not of the day
    run(
        whatsapp,
        RunKind.INTEGRITY,
        RunStatus.SUCCEEDED,
        ago=4 * hour,
        findings={"differing_days": ["2026-11-17", "2026-11-18"]},
    )
    run(sms, RunKind.MESSAGES, RunStatus.SUCCEEDED, ago=5 * hour)
    run(sms, RunKind.MESSAGES, RunStatus.FAILED, ago=6 * hour, error="Twilio answered 503")
    run(sms, RunKind.MESSAGES, RunStatus.FAILED, ago=30 * hour, error="older")
    check(whatsapp, HealthCheckResult.CONFIRMED, ago=2 * hour)
    check(whatsapp, HealthCheckResult.CONFIRMED, ago=3 * hour)
    check(sms, HealthCheckResult.TIMED_OUT, ago=2 * hour)
    check(sms, HealthCheckResult.TIMED_OUT, ago=3 * hour)
    AlertIncident.objects.create(
        kind=AlertKind.WEBHOOK_BACKLOG,
        key="whatsapp_cloud",
        summary="whatsapp_cloud webhooks waiting 6 min",
        opened_at=T0 - 3 * hour,
        resolved_at=T0 - 3 * hour + timedelta(minutes=12),
    )
    AlertIncident.objects.create(
        kind=AlertKind.QUEUE_GROWING,
        key="webhooks",
        summary="Celery queue webhooks grew from 1 to 40",
        opened_at=T0 - timedelta(minutes=20),
    )
    return dead


def test_the_daily_email_counts_the_last_24_hours(day):
    with time_machine.travel(T0, tick=False):
        result = ops_digest_send()

    assert result["sent"] is True
    (email,) = mail.outbox
    assert email.to == ["ops@switchboard.test"]
    assert email.subject == (
        "[Switchboard] Operations, last 24 h: 7 webhooks, 2 failing, 1 dead, 2 alerts"
    )
    body = email.body
    assert "From 2026-11-19 07:00 to 2026-11-20 07:00 UTC." in body
    assert "  twilio: 2 (processed 2)" in body
    assert "  whatsapp_cloud: 5 (dead 1, failed 1, processed 3)" in body
    assert "Waiting now: received 0, processing 0, failed 1, dead 2, unroutable 0" in body
    assert "DEAD WEBHOOKS (received in the period): 1" in body
    assert f"  #{day.pk} whatsapp_cloud (Support WA): KeyError: 'entry' " in body
    assert f"/admin/webhooks/webhookevent/{day.pk}/change/" in body
    assert "  integrity succeeded: 1" in body
    assert "  messages failed: 1" in body
    assert "  messages succeeded: 1" in body
    assert "Twilio answered 503" in body
    assert "older" not in body
    assert "Support WA · WhatsApp has 2 day(s) whose message counts differ" in body
    assert "  confirmed 2, timed_out 2" in body
    assert "  Failing: Sales SMS (2 check(s))" in body
    assert "ALERTS: 2 opened in the period, 1 open now" in body
    assert "  04:00 whatsapp_cloud webhooks waiting 6 min (cleared 04:12)" in body
    assert "  06:40 Celery queue webhooks grew from 1 to 40 (still open)" in body


def test_a_quiet_day_says_so(organization):
    with time_machine.travel(T0, tick=False):
        ops_digest_send_task.delay()

    (email,) = mail.outbox
    assert email.subject.endswith("0 webhooks, 0 failing, 0 dead, 0 alerts")
    for line in ["None received.", "No run finished.", "No check ran.", "0 open now"]:
        assert line in email.body


def test_without_operators_nothing_is_sent(day, settings):
    settings.ADMINS = []
    with time_machine.travel(T0, tick=False):
        assert ops_digest_send()["sent"] is False
    assert mail.outbox == []
