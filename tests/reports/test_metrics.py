"""/metrics: the token, and each metric family's values on small hand-counted data,
as Prometheus' own parser reads them."""

import os
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import redis
import time_machine
from prometheus_client.parser import text_string_to_metric_families

from integrations.subscription_models import Delivery, DeliveryStatus, Subscription
from messaging.models import DailyRefusalCount
from outbox.models import OutboxEvent
from providers import Provider
from reconciliation.models import (
    HealthCheckResult,
    ReconciliationRun,
    RunKind,
    RunStatus,
    RunTrigger,
    WebhookHealthCheck,
)
from tests.factories import ChannelFactory
from webhooks.models import EventStatus, WebhookEvent

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 20, 12, 30, tzinfo=UTC)
TOKEN = "metrics-secret"
DEAD_REDIS = "redis://127.0.0.1:1/0"
_keys = count()


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(T0, tick=False):
        yield


@pytest.fixture(autouse=True)
def token(settings):
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_WINDOW_SECONDS = 300


def scrape(client) -> dict:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    families = text_string_to_metric_families(response.content.decode())
    return {family.name: family for family in families}


def samples(family, name: str | None = None) -> dict:
    """{frozenset(labels): value} of the family's samples named `name` (default: its own)."""
    name = name or family.name
    return {frozenset(s.labels.items()): s.value for s in family.samples if s.name == name}


def labels(**pairs) -> frozenset:
    return frozenset(pairs.items())


def event(channel, status, *, ago: timedelta, took: timedelta | None = None) -> WebhookEvent:
    received = T0 - ago
    return WebhookEvent.objects.create(
        provider=channel.provider,
        channel=channel,
        organization=channel.organization,
        body=b"{}",
        received_at=received,
        processed_at=received + took if took is not None else None,
        dedupe_key=f"metrics-{next(_keys)}",
        status=status,
    )


# --- the token ----------------------------------------------------------------------


def test_without_the_token_it_is_401(client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer guess")
    assert wrong.status_code == 401
    assert wrong["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", HTTP_AUTHORIZATION=f"Basic {TOKEN}").status_code == 401


def test_with_no_token_set_it_is_off_in_production(client, settings):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = False
    assert client.get("/metrics").status_code == 404


def test_with_no_token_set_it_is_open_in_development(client, settings):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = True
    assert client.get("/metrics").status_code == 200


# --- the figures --------------------------------------------------------------------


def test_webhook_queue_depth_and_oldest_unprocessed_age(client, organization):
    whatsapp = ChannelFactory(organization=organization, provider=Provider.WHATSAPP_CLOUD)
    twilio = ChannelFactory(organization=organization, provider=Provider.TWILIO)
    event(whatsapp, EventStatus.RECEIVED, ago=timedelta(minutes=7))
    event(whatsapp, EventStatus.RECEIVED, ago=timedelta(seconds=30))
    event(whatsapp, EventStatus.PROCESSING, ago=timedelta(minutes=9))  # the oldest
    event(whatsapp, EventStatus.FAILED, ago=timedelta(hours=2))  # failed: not "unprocessed"
    event(twilio, EventStatus.DEAD, ago=timedelta(days=3))
    event(twilio, EventStatus.DEAD, ago=timedelta(days=2))
    event(twilio, EventStatus.PROCESSED, ago=timedelta(hours=1), took=timedelta(seconds=1))

    families = scrape(client)

    assert samples(families["switchboard_webhook_queue_depth"]) == {
        labels(provider="whatsapp_cloud", status="received"): 2,
        labels(provider="whatsapp_cloud", status="processing"): 1,
        labels(provider="whatsapp_cloud", status="failed"): 1,
        labels(provider="twilio", status="dead"): 2,
    }
    ages = samples(families["switchboard_webhook_oldest_unprocessed_age_seconds"])
    assert ages[labels(provider="whatsapp_cloud")] == 9 * 60
    assert ages[labels(provider="twilio")] == 0


def test_intake_and_apply_latency_of_the_window(client, channel):
    # In the 5-minute window: three processed (0.2 s, 2 s, 90 s), one failed.
    event(channel, EventStatus.PROCESSED, ago=timedelta(minutes=1), took=timedelta(seconds=0.2))
    event(channel, EventStatus.PROCESSED, ago=timedelta(minutes=2), took=timedelta(seconds=2))
    event(channel, EventStatus.PROCESSED, ago=timedelta(minutes=4), took=timedelta(seconds=90))
    event(channel, EventStatus.FAILED, ago=timedelta(minutes=3))
    # Before the window: not counted.
    event(channel, EventStatus.PROCESSED, ago=timedelta(minutes=6), took=timedelta(seconds=1))

    families = scrape(client)

    provider = channel.provider
    assert samples(families["switchboard_webhooks_received_window"]) == {
        labels(provider=provider, status="processed"): 3,
        labels(provider=provider, status="failed"): 1,
    }
    latency = families["switchboard_webhook_apply_latency_seconds"]
    buckets = samples(latency, "switchboard_webhook_apply_latency_seconds_bucket")
    assert buckets[labels(provider=provider, le="0.1")] == 0
    assert buckets[labels(provider=provider, le="0.25")] == 1
    assert buckets[labels(provider=provider, le="2.5")] == 2
    assert buckets[labels(provider=provider, le="60.0")] == 2
    assert buckets[labels(provider=provider, le="300.0")] == 3
    assert buckets[labels(provider=provider, le="+Inf")] == 3
    count_ = samples(latency, "switchboard_webhook_apply_latency_seconds_count")
    assert count_ == {labels(provider=provider): 3}
    total = samples(latency, "switchboard_webhook_apply_latency_seconds_sum")
    assert total[labels(provider=provider)] == pytest.approx(92.2)


def outbox(channel, type, *, ago: timedelta, **body):
    return OutboxEvent.objects.create(
        type=type,
        version=1,
        organization=channel.organization,
        channel_id=channel.pk,
        occurred_at=T0 - ago,
        created_at=T0 - ago,
        body=body,
    )


def test_send_outcomes_by_provider_and_error_code(client, organization):
    whatsapp = ChannelFactory(organization=organization, provider=Provider.WHATSAPP_CLOUD)
    sms = ChannelFactory(organization=organization, provider=Provider.OPENPHONE)
    minute = timedelta(minutes=1)
    outbox(whatsapp, "message.sent", ago=minute, status="sent")
    outbox(whatsapp, "message.sent", ago=minute, status="sent")
    outbox(whatsapp, "message.status_changed", ago=minute, status="sent", error_code="")
    outbox(whatsapp, "message.status_changed", ago=minute, status="delivered", error_code="")
    outbox(whatsapp, "message.status_changed", ago=minute, status="failed", error_code="131047")
    outbox(whatsapp, "message.status_changed", ago=minute, status="failed", error_code="131047")
    outbox(sms, "message.status_changed", ago=minute, status="failed", error_code="RATE_LIMITED")
    outbox(sms, "message.received", ago=minute, status="received")  # not a send
    outbox(sms, "message.sent", ago=timedelta(minutes=10), status="sent")  # before the window

    families = scrape(client)

    assert samples(families["switchboard_send_outcomes_window"]) == {
        labels(provider="whatsapp_cloud", outcome="accepted", error_code=""): 2,
        labels(provider="whatsapp_cloud", outcome="delivered", error_code=""): 1,
        labels(provider="whatsapp_cloud", outcome="failed", error_code="131047"): 2,
        labels(provider="openphone", outcome="failed", error_code="RATE_LIMITED"): 1,
    }


def test_subscription_deliveries(client, channel):
    subscription = Subscription.objects.create(
        organization=channel.organization, url="https://example.com/hook", secret="s"
    )

    def delivery(status, *, ago: timedelta, due_ago=timedelta(0)):
        return Delivery.objects.create(
            organization=channel.organization,
            subscription=subscription,
            event_type="message.received",
            webhook_id=f"msg_{next(_keys)}",
            payload="{}",
            status=status,
            created_at=T0 - ago,
            next_attempt_at=T0 - due_ago,
        )

    delivery(DeliveryStatus.SUCCEEDED, ago=timedelta(minutes=1))
    delivery(DeliveryStatus.SUCCEEDED, ago=timedelta(minutes=2))
    delivery(DeliveryStatus.PENDING, ago=timedelta(minutes=2), due_ago=timedelta(seconds=40))
    delivery(DeliveryStatus.PENDING, ago=timedelta(hours=3), due_ago=timedelta(minutes=-5))
    delivery(DeliveryStatus.DEAD, ago=timedelta(hours=30))

    families = scrape(client)

    assert samples(families["switchboard_subscription_deliveries_window"]) == {
        labels(status="succeeded"): 2,
        labels(status="pending"): 1,
    }
    assert samples(families["switchboard_subscription_deliveries_unfinished"]) == {
        labels(status="pending"): 2,
        labels(status="sending"): 0,
    }
    oldest = samples(families["switchboard_subscription_delivery_oldest_due_age_seconds"])
    assert oldest == {labels(): 40}


def test_health_checks_and_reconciliation_per_channel(client, channel):
    WebhookHealthCheck.objects.create(
        organization=channel.organization,
        channel=channel,
        sent_at=T0 - timedelta(hours=2),
        result=HealthCheckResult.CONFIRMED,
        latency_ms=800,
    )
    WebhookHealthCheck.objects.create(
        organization=channel.organization,
        channel=channel,
        sent_at=T0 - timedelta(minutes=30),
        result=HealthCheckResult.TIMED_OUT,
    )
    ReconciliationRun.objects.create(
        organization=channel.organization,
        channel=channel,
        kind=RunKind.INTEGRITY,
        window_start=T0 - timedelta(days=7),
        window_end=T0,
        trigger=RunTrigger.SCHEDULE,
        status=RunStatus.SUCCEEDED,
        finished_at=T0 - timedelta(hours=5),
        findings={"differing_days": {"2026-11-18": {}, "2026-11-19": {}}},
    )

    families = scrape(client)

    who = {
        "organization": channel.organization.slug,
        "channel_id": str(channel.pk),
        "provider": channel.provider,
    }
    assert samples(families["switchboard_webhook_health_check_ok"]) == {
        labels(**who, result="timed_out"): 0
    }
    assert samples(families["switchboard_webhook_health_check_age_seconds"]) == {
        labels(**who): 30 * 60
    }
    assert samples(families["switchboard_reconciliation_differing_days"]) == {labels(**who): 2}


@pytest.mark.skipif(
    not os.environ.get("REDIS_URL"),
    reason="needs Redis (REDIS_URL); CI refuses to start without it, so there it runs",
)
def test_celery_queue_lengths_from_the_broker(client, settings):
    settings.CELERY_BROKER_URL = os.environ["REDIS_URL"]
    broker = redis.Redis.from_url(os.environ["REDIS_URL"])
    broker.delete("webhooks", "webhooks\x06\x163", "outbound")
    broker.lpush("webhooks", "a", "b")
    broker.lpush("webhooks\x06\x163", "c")  # a prioritised message of the same queue
    try:
        families = scrape(client)
    finally:
        broker.delete("webhooks", "webhooks\x06\x163")

    lengths = samples(families["switchboard_celery_queue_length"])
    assert lengths[labels(queue="webhooks")] == 3
    assert lengths[labels(queue="outbound")] == 0
    assert samples(families["switchboard_scrape_source_up"])[labels(source="broker")] == 1


def test_redis_down_leaves_out_what_it_holds_and_serves_the_rest(client, channel, settings):
    settings.CELERY_BROKER_URL = DEAD_REDIS
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": DEAD_REDIS,
            "OPTIONS": {"socket_connect_timeout": 0.5},
        }
    }
    event(channel, EventStatus.RECEIVED, ago=timedelta(minutes=2))

    families = scrape(client)

    assert samples(families["switchboard_scrape_source_up"]) == {
        labels(source="broker"): 0,
        labels(source="cache"): 0,
    }
    assert "switchboard_celery_queue_length" not in families
    assert "switchboard_webhooks_refused_today" not in families
    depth = samples(families["switchboard_webhook_queue_depth"])
    assert depth == {labels(provider=channel.provider, status="received"): 1}


def test_refused_webhooks_of_the_day(client, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    from webhooks.metrics import webhook_refused_count

    webhook_refused_count("twilio", "bad signature")
    webhook_refused_count("twilio", "bad signature")

    families = scrape(client)

    refused = samples(families["switchboard_webhooks_refused_today"])
    assert refused[labels(provider="twilio")] == 2
    assert refused[labels(provider="openphone")] == 0
    assert samples(families["switchboard_scrape_source_up"])[labels(source="cache")] == 1


def test_refused_sends_of_each_organizations_local_day(client, settings):
    tokyo = ChannelFactory(provider=Provider.WHATSAPP_CLOUD)
    tokyo.organization.timezone = "Asia/Tokyo"  # T0 is 21:30 on the 20th there
    tokyo.organization.save(update_fields=["timezone"])
    utc = ChannelFactory(provider=Provider.WHATSAPP_CLOUD)

    def refused(channel, day, code, count):
        DailyRefusalCount.objects.create(
            organization=channel.organization,
            channel_id=channel.pk,
            day=day,
            code=code,
            count=count,
        )

    refused(tokyo, T0.date(), "WINDOW_EXPIRED", 3)
    refused(utc, T0.date(), "WINDOW_EXPIRED", 2)
    refused(utc, T0.date(), "RATE_LIMITED", 4)
    refused(utc, T0.date() - timedelta(days=1), "RATE_LIMITED", 9)  # yesterday

    families = scrape(client)

    assert samples(families["switchboard_send_refusals_today"]) == {
        labels(provider="whatsapp_cloud", code="WINDOW_EXPIRED"): 5,
        labels(provider="whatsapp_cloud", code="RATE_LIMITED"): 4,
    }
