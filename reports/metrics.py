"""`/metrics`: Prometheus' view of Switchboard, read from PostgreSQL at scrape time.

Nothing is counted in process memory: web and worker processes come and go, and a
counter that dies with its process lies. Each scrape runs the collector below, which
reads the figures from the database (reports.monitoring and the operations dashboard's
selector), the broker's queue lengths and the refused-webhook counters in the cache.
A part that cannot be read (Redis down) is left out and said so in
`switchboard_scrape_source_up{source=...}`; the rest is still served.

The endpoint wants `Authorization: Bearer <METRICS_TOKEN>` (401 otherwise). With no
token set it is off in production (404); in development (DEBUG) it is open.
"""

import hmac
import logging
from collections.abc import Iterator

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from config.celery import QUEUES
from providers import Provider
from reconciliation.dashboard import dashboard_figures
from reports import monitoring
from webhooks.metrics import webhook_refused_today

logger = logging.getLogger(__name__)

P = "switchboard_"


class SwitchboardCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        sources = GaugeMetricFamily(
            f"{P}scrape_source_up",
            "Whether each source could be read (1) or not (0).",
            labels=["source"],
        )
        yield from _webhook_queue(now)
        yield from _webhook_intake(now)
        yield from _sends(now)
        yield from _refused_sends(now)
        yield from _deliveries(now)
        yield from _channels(now)
        lengths = monitoring.celery_queue_lengths(QUEUES)
        sources.add_metric(["broker"], 0 if lengths is None else 1)
        if lengths is not None:
            yield _celery(lengths)
        refused = _refused_today()
        sources.add_metric(["cache"], 0 if refused is None else 1)
        if refused is not None:
            yield refused
        yield sources


def _counts(name: str, documentation: str, labels: list[str], counts: dict) -> Metric:
    """A gauge of counts keyed by their label values (a tuple, or one value)."""
    family = GaugeMetricFamily(f"{P}{name}", documentation, labels=labels)
    for key, count in sorted(counts.items()):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], count)
    return family


def _webhook_queue(now) -> Iterator[Metric]:
    figures = monitoring.webhook_queue_figures()
    depth = _counts(
        "webhook_queue_depth",
        "Webhook events not processed, by provider and status (received, processing, "
        "failed, dead, unroutable).",
        ["provider", "status"],
        figures.depth,
    )
    oldest = GaugeMetricFamily(
        f"{P}webhook_oldest_unprocessed_age_seconds",
        "Age of the oldest webhook still received or processing, by provider (0: none).",
        labels=["provider"],
    )
    for provider in Provider:
        at = figures.oldest_unprocessed.get(provider.value)
        oldest.add_metric([provider.value], max((now - at).total_seconds(), 0) if at else 0)
    yield depth
    yield oldest


def _webhook_intake(now) -> Iterator[Metric]:
    figures = monitoring.webhook_intake_figures(now=now)
    intake = _counts(
        "webhooks_received_window",
        "Webhooks received in the last METRICS_WINDOW_SECONDS, by provider and their status now.",
        ["provider", "status"],
        figures.intake,
    )
    latency = HistogramMetricFamily(
        f"{P}webhook_apply_latency_seconds",
        "Received to processed, of the webhooks received in the window and processed.",
        labels=["provider"],
    )
    for provider, hist in sorted(figures.latency.items()):
        buckets = [(str(bound), count) for bound, count in hist.buckets.items()]
        buckets.append(("+Inf", hist.count))
        latency.add_metric([provider], buckets, hist.total_seconds)
    yield intake
    yield latency


def _sends(now) -> Iterator[Metric]:
    yield _counts(
        "send_outcomes_window",
        "Outbound messages in the window by provider and outcome (accepted, delivered, "
        "read, failed) with the failure's error code.",
        ["provider", "outcome", "error_code"],
        monitoring.send_outcomes(now=now),
    )


def _refused_sends(now) -> Iterator[Metric]:
    yield _counts(
        "send_refusals_today",
        "Sends our checks refused (window expired, template not approved, rate limited, "
        "opted out...) on each organization's current local day, by provider and code.",
        ["provider", "code"],
        monitoring.send_refusals_today(now=now),
    )


def _deliveries(now) -> Iterator[Metric]:
    figures = monitoring.delivery_figures(now=now)
    recent = _counts(
        "subscription_deliveries_window",
        "Event-subscription deliveries created in the window, by status now.",
        ["status"],
        figures.recent,
    )
    waiting = GaugeMetricFamily(
        f"{P}subscription_deliveries_unfinished",
        "Event-subscription deliveries pending (first try or retry) or sending.",
        labels=["status"],
    )
    for status in ("pending", "sending"):
        waiting.add_metric([status], figures.waiting.get(status, 0))
    oldest = GaugeMetricFamily(
        f"{P}subscription_delivery_oldest_due_age_seconds",
        "How long the longest-waiting due delivery has been due (0: none).",
    )
    due = figures.oldest_due
    oldest.add_metric([], max((now - due).total_seconds(), 0) if due else 0)
    yield recent
    yield waiting
    yield oldest


def _channels(now) -> Iterator[Metric]:
    """Per channel, from the operations dashboard's selector (the same figures the
    admin index shows): the latest health check and the reconciliations."""
    labels = ["organization", "channel_id", "provider"]
    ok = GaugeMetricFamily(
        f"{P}webhook_health_check_ok",
        "The channel's latest finished webhook health check: 1 confirmed, 0 failed.",
        labels=[*labels, "result"],
    )
    latency = GaugeMetricFamily(
        f"{P}webhook_health_check_latency_seconds",
        "Send to webhook of the latest confirmed health check.",
        labels=labels,
    )
    age = GaugeMetricFamily(
        f"{P}webhook_health_check_age_seconds",
        "Time since the latest finished health check was sent.",
        labels=labels,
    )
    differing = GaugeMetricFamily(
        f"{P}reconciliation_differing_days",
        "Days whose provider and local message counts differ (latest integrity check).",
        labels=labels,
    )
    run_age = GaugeMetricFamily(
        f"{P}reconciliation_last_success_age_seconds",
        "Time since the latest successful message or template reconciliation finished.",
        labels=labels,
    )
    dashboard = dashboard_figures(now=now)
    for organization in dashboard.organizations:
        for figures in organization.channels:
            channel = figures.channel
            values = [organization.organization.slug, str(channel.pk), channel.provider]
            if figures.health is not None:
                ok.add_metric([*values, figures.health.result], 1 if figures.health.ok else 0)
                age.add_metric(values, (now - figures.health.sent_at).total_seconds())
                if figures.health.latency_ms is not None:
                    latency.add_metric(values, figures.health.latency_ms / 1000)
            if figures.last_integrity_check is not None:
                differing.add_metric(values, figures.last_integrity_check.differing_days)
            run = figures.last_run
            if run is not None and run.finished_at is not None:
                run_age.add_metric(values, (now - run.finished_at).total_seconds())
    unroutable = GaugeMetricFamily(
        f"{P}webhooks_unroutable", "Webhooks waiting in the queue that belong to no channel."
    )
    unroutable.add_metric([], dashboard.unroutable)
    yield from (ok, latency, age, differing, run_age, unroutable)


def _celery(lengths: dict[str, int]) -> Metric:
    family = GaugeMetricFamily(
        f"{P}celery_queue_length", "Messages waiting in each Celery queue.", labels=["queue"]
    )
    for queue, length in lengths.items():
        family.add_metric([queue], length)
    return family


def _refused_today() -> Metric | None:
    """The refused-webhook counters (bad signature, unknown channel) kept in the cache
    for the current UTC day; None if the cache does not answer."""
    family = GaugeMetricFamily(
        f"{P}webhooks_refused_today",
        "Webhook requests refused (bad signature, unknown channel) since midnight UTC.",
        labels=["provider"],
    )
    try:
        for provider in Provider:
            family.add_metric([provider.value], webhook_refused_today(provider.value))
    except (RedisError, OSError) as exc:
        logger.warning("Refused-webhook counters unavailable: %s", exc)
        return None
    return family


def metrics_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SwitchboardCollector())
    return registry


def _authorized(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    if not token:
        if settings.DEBUG:
            return True
        raise Http404  # off: production without a token
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip(), token)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _authorized(request):
        response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
