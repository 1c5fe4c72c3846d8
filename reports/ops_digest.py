"""The daily operators' email (to ADMINS): the last 24 hours of the platform at a
glance. Webhook intake and failures per provider, dead events, reconciliation runs and
their findings, webhook health checks, and the alert incidents.

Read once a day, so it may count the day's rows (through the received_at, sent_at and
created_at indexes); plain text, every figure with its admin list when there is one.
"""

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from reconciliation.dashboard import DIFFERING_DAYS
from reconciliation.models import (
    HealthCheckResult,
    ReconciliationRun,
    RunKind,
    RunStatus,
    WebhookHealthCheck,
)
from reports import monitoring
from reports.alert_models import AlertIncident
from tenants.alerts import admin_url, alert_send
from webhooks.models import EventStatus, WebhookEvent

PERIOD = timedelta(hours=24)
RUN_CHANGE = "admin:reconciliation_reconciliationrun_change"
LISTED = 10  # dead events and failing channels named one by one, at most


@dataclass
class Digest:
    since: datetime
    now: datetime
    intake: dict[str, Counter]  # provider -> status -> received in the period
    queue: dict[tuple[str, str], int]  # (provider, status) -> waiting now
    dead: list[WebhookEvent]  # the period's, newest first
    dead_total: int
    runs: Counter  # (kind, status) -> finished in the period
    failed_runs: list[ReconciliationRun]
    findings: list[tuple[ReconciliationRun, int]]  # integrity checks with differing days
    checks: Counter  # result -> checks sent in the period
    failing_checks: list[WebhookHealthCheck]
    incidents_opened: list[AlertIncident]
    incidents_open: int


def ops_digest_figures(*, now: datetime) -> Digest:
    since = now - PERIOD
    received = WebhookEvent.objects.filter(received_at__gte=since, received_at__lt=now)
    intake: dict[str, Counter] = {}
    rows = received.order_by().values_list("provider", "status").annotate(Count("pk"))
    for provider, status, count in rows:
        intake.setdefault(provider, Counter())[status] = count
    dead = received.filter(status=EventStatus.DEAD).select_related("channel")
    finished = ReconciliationRun.objects.filter(finished_at__gte=since, finished_at__lt=now)
    checks = WebhookHealthCheck.objects.filter(sent_at__gte=since, sent_at__lt=now)
    failing = (HealthCheckResult.TIMED_OUT, HealthCheckResult.SEND_FAILED)
    return Digest(
        since=since,
        now=now,
        intake=intake,
        queue=monitoring.webhook_queue_figures().depth,
        dead=list(dead.order_by("-received_at", "-pk")[:LISTED]),
        dead_total=dead.count(),
        runs=Counter(
            {
                (kind, status): count
                for kind, status, count in finished.order_by()
                .values_list("kind", "status")
                .annotate(Count("pk"))
            }
        ),
        failed_runs=list(
            finished.filter(status=RunStatus.FAILED).select_related("channel").order_by("-pk")
        ),
        findings=_findings(finished),
        checks=Counter(dict(checks.order_by().values_list("result").annotate(Count("pk")))),
        failing_checks=list(
            checks.filter(result__in=failing).select_related("channel").order_by("-sent_at")
        ),
        incidents_opened=list(
            AlertIncident.objects.filter(Q(opened_at__gte=since) & Q(opened_at__lt=now)).order_by(
                "opened_at", "pk"
            )
        ),
        incidents_open=AlertIncident.objects.filter(resolved_at__isnull=True).count(),
    )


def _findings(finished) -> list[tuple[ReconciliationRun, int]]:
    found = []
    checks = finished.filter(kind=RunKind.INTEGRITY, status=RunStatus.SUCCEEDED)
    for run in checks.select_related("channel").order_by("pk"):
        differing = run.findings.get(DIFFERING_DAYS) if isinstance(run.findings, dict) else None
        if differing:
            found.append((run, len(differing)))
    return found


def ops_digest_render(digest: Digest) -> tuple[str, str]:
    received = sum(sum(c.values()) for c in digest.intake.values())
    failing = sum(c[EventStatus.FAILED] + c[EventStatus.DEAD] for c in digest.intake.values())
    subject = (
        f"Operations, last 24 h: {received} webhooks, {failing} failing, "
        f"{digest.dead_total} dead, {len(digest.incidents_opened)} alerts"
    )
    parts = [
        f"From {digest.since:%Y-%m-%d %H:%M} to {digest.now:%Y-%m-%d %H:%M} UTC.",
        _intake_section(digest),
        _dead_section(digest),
        _runs_section(digest),
        _checks_section(digest),
        _incidents_section(digest),
    ]
    return subject, "\n\n".join(parts) + "\n"


def _intake_section(digest: Digest) -> str:
    lines = ["WEBHOOKS (received in the period, by their status now)"]
    if not digest.intake:
        lines.append("  None received.")
    for provider, counts in sorted(digest.intake.items()):
        detail = ", ".join(f"{status} {count}" for status, count in sorted(counts.items()))
        lines.append(f"  {provider}: {sum(counts.values())} ({detail})")
    waiting = Counter()
    for (_, status), count in digest.queue.items():
        waiting[status] += count
    lines.append(
        "  Waiting now: "
        + ", ".join(f"{s} {waiting[s]}" for s in monitoring.QUEUE_STATUSES)
        + f" ({settings.PUBLIC_BASE_URL}/admin/webhooks/failedwebhook/)"
    )
    return "\n".join(lines)


def _dead_section(digest: Digest) -> str:
    lines = [f"DEAD WEBHOOKS (received in the period): {digest.dead_total}"]
    for event in digest.dead:
        channel = event.channel.name if event.channel else "no channel"
        error = event.last_error.splitlines()[0][:120] if event.last_error else ""
        lines.append(
            f"  #{event.pk} {event.provider} ({channel}): {error} "
            f"{admin_url('admin:webhooks_webhookevent_change', event.pk)}"
        )
    if digest.dead_total > len(digest.dead):
        lines.append(f"  ... and {digest.dead_total - len(digest.dead)} more.")
    return "\n".join(lines)


def _runs_section(digest: Digest) -> str:
    lines = ["RECONCILIATION (runs finished in the period)"]
    if not digest.runs:
        lines.append("  No run finished.")
    for (kind, status), count in sorted(digest.runs.items()):
        lines.append(f"  {kind} {status}: {count}")
    for run in digest.failed_runs[:LISTED]:
        lines.append(f"  Failed: {run.get_kind_display()} of {run.channel}: {run.error[:120]}")
    for run, days in digest.findings:
        lines.append(
            f"  Finding: {run.channel} has {days} day(s) whose message counts differ "
            f"from the provider's {admin_url(RUN_CHANGE, run.pk)}"
        )
    return "\n".join(lines)


def _checks_section(digest: Digest) -> str:
    lines = ["WEBHOOK HEALTH CHECKS (sent in the period)"]
    if not digest.checks:
        lines.append("  No check ran.")
    else:
        lines.append("  " + ", ".join(f"{r} {n}" for r, n in sorted(digest.checks.items())))
    failing = Counter(check.channel.name for check in digest.failing_checks)
    for name, count in failing.most_common(LISTED):
        lines.append(f"  Failing: {name} ({count} check(s))")
    return "\n".join(lines)


def _incidents_section(digest: Digest) -> str:
    lines = [
        f"ALERTS: {len(digest.incidents_opened)} opened in the period, "
        f"{digest.incidents_open} open now"
    ]
    for incident in digest.incidents_opened:
        state = f"cleared {incident.resolved_at:%H:%M}" if incident.resolved_at else "still open"
        lines.append(f"  {incident.opened_at:%H:%M} {incident.summary} ({state})")
    return "\n".join(lines)


def ops_digest_send(*, now: datetime | None = None) -> dict:
    digest = ops_digest_figures(now=now or timezone.now())
    subject, body = ops_digest_render(digest)
    sent = alert_send(organization=None, subject=subject, body=body)
    return {"sent": sent, "subject": subject}
