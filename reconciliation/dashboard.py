"""The operations dashboard's figures (shown on the admin index): per organization and
channel, what an operator checks first.

A selector: it only reads, and it reads with a constant number of queries whatever
the number of channels (seven: the channels, then one aggregate per source, grouped
by channel or by organization and hour). Each aggregate only touches the rows it
counts (the last hour's or day's webhooks, the unfinished and failed ones, open
windows, problem templates, each channel's latest run and check), so it is cheap
enough to run on every view of the index.

Windows are counted with `conversations.window.window_conditions`, from
`window_expires_at` and the clock, never from the stored `is_window_open` flag.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, F, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncHour
from django.utils import timezone

from conversations.models import Conversation
from conversations.window import window_conditions
from reconciliation.models import (
    HealthCheckResult,
    ReconciliationRun,
    RunKind,
    RunStatus,
    WebhookHealthCheck,
)
from templates.models import MessageTemplate, QualityScore, TemplateStatus
from tenants.models import Channel, Organization, WindowPolicy
from webhooks.models import EventStatus, WebhookEvent

INTAKE_PERIOD = timedelta(hours=1)
CHART_HOURS = 24
# Waiting for a worker: not finished, not failed.
UNPROCESSED_STATUSES = (EventStatus.RECEIVED, EventStatus.PROCESSING)
# What the chart calls a failure: events received in that hour that failed since.
FAILURE_STATUSES = (EventStatus.FAILED, EventStatus.DEAD)
# Template statuses an operator must act on (quality RED is counted on its own).
PROBLEM_TEMPLATE_STATUSES = (TemplateStatus.PAUSED, TemplateStatus.DISABLED)
# The integrity check's findings: the days whose provider and local counts differ.
DIFFERING_DAYS = "differing_days"


@dataclass(frozen=True)
class RunFigures:
    """A finished reconciliation run, as the dashboard reports it."""

    id: int
    kind: str
    finished_at: datetime | None
    created: int
    updated: int
    differing_days: int  # the integrity check's finding; 0 for other runs


@dataclass(frozen=True)
class HealthFigures:
    """A channel's latest finished webhook health check."""

    id: int
    result: str
    result_label: str
    latency_ms: int | None
    sent_at: datetime

    @property
    def ok(self) -> bool:
        return self.result == HealthCheckResult.CONFIRMED


@dataclass(frozen=True)
class TemplateFigures:
    paused: int = 0
    disabled: int = 0
    red: int = 0
    problems: int = 0  # templates with any of the three (one template counts once)


@dataclass
class ChannelFigures:
    channel: Channel
    intake_last_hour: int = 0
    failed: int = 0
    dead: int = 0
    oldest_unprocessed_at: datetime | None = None
    last_run: RunFigures | None = None  # messages or templates, the latest succeeded
    last_integrity_check: RunFigures | None = None
    health: HealthFigures | None = None
    # None for a channel whose windows are always open (SMS, LinkedIn): nothing to count.
    open_windows: int | None = 0
    expiring_windows: int | None = 0
    templates: TemplateFigures = field(default_factory=TemplateFigures)

    @property
    def always_open(self) -> bool:
        return self.channel.window_policy == WindowPolicy.ALWAYS_OPEN


@dataclass(frozen=True)
class HourFigures:
    start: datetime
    intake: int
    failures: int


@dataclass
class OrganizationFigures:
    organization: Organization
    channels: list[ChannelFigures]
    hours: list[HourFigures]  # the last CHART_HOURS hours, oldest first

    @property
    def intake_last_hour(self) -> int:
        return sum(c.intake_last_hour for c in self.channels)

    @property
    def failed(self) -> int:
        return sum(c.failed for c in self.channels)

    @property
    def dead(self) -> int:
        return sum(c.dead for c in self.channels)


@dataclass
class Dashboard:
    now: datetime
    organizations: list[OrganizationFigures]
    # Webhooks waiting in the queue that belong to no channel (and so no organization).
    unroutable: int = 0


def dashboard_figures(
    *, now: datetime | None = None, organization_ids: list[int] | None = None
) -> Dashboard:
    """The channels and figures at `now` (default: the clock) of the given organizations,
    or of every organization (and the webhooks that belong to none) when None."""
    now = now or timezone.now()
    mine = Q() if organization_ids is None else Q(organization_id__in=organization_ids)
    channels = {
        channel.pk: ChannelFigures(channel=channel)
        for channel in Channel.objects.filter(mine)
        .select_related("organization")
        .order_by("organization__name", "organization_id", "name", "pk")
    }
    unroutable = _add_webhook_figures(channels, now=now, mine=mine)
    if organization_ids is not None:
        unroutable = 0  # they belong to no organization: the platform operators' to see
    _add_runs(channels)
    _add_health_checks(channels)
    _add_windows(channels, now=now)
    _add_templates(channels)
    hours = _hourly_webhooks(now=now, mine=mine)

    by_organization: dict[int, list[ChannelFigures]] = {}
    for figures in channels.values():
        by_organization.setdefault(figures.channel.organization_id, []).append(figures)
    chart_start = _chart_start(now)
    organizations = [
        OrganizationFigures(
            organization=rows[0].channel.organization,
            channels=rows,
            hours=[
                HourFigures(start, *hours.get((organization_id, start), (0, 0)))
                for start in (chart_start + timedelta(hours=i) for i in range(CHART_HOURS))
            ],
        )
        for organization_id, rows in by_organization.items()
    ]
    return Dashboard(now=now, organizations=organizations, unroutable=unroutable)


def _add_webhook_figures(channels: dict[int, ChannelFigures], *, now: datetime, mine: Q) -> int:
    """Intake, queue depth and the oldest unprocessed event, per channel; returns the
    unroutable events (no channel) waiting in the queue."""
    since = now - INTAKE_PERIOD
    rows = (
        WebhookEvent.objects.filter(mine)
        .filter(
            Q(received_at__gte=since)
            | Q(status__in=[*UNPROCESSED_STATUSES, *FAILURE_STATUSES, EventStatus.UNROUTABLE])
        )
        .order_by()
        .values("channel_id")
        .annotate(
            intake=Count("pk", filter=Q(received_at__gte=since)),
            failed=Count("pk", filter=Q(status=EventStatus.FAILED)),
            dead=Count("pk", filter=Q(status=EventStatus.DEAD)),
            unroutable=Count("pk", filter=Q(status=EventStatus.UNROUTABLE)),
            oldest=Min("received_at", filter=Q(status__in=UNPROCESSED_STATUSES)),
        )
    )
    unroutable = 0
    for row in rows:
        figures = channels.get(row["channel_id"])
        if figures is None:  # no channel: unroutable, or its channel was deleted
            unroutable += row["unroutable"] + row["failed"] + row["dead"]
            continue
        figures.intake_last_hour = row["intake"]
        figures.failed = row["failed"]
        figures.dead = row["dead"]
        figures.oldest_unprocessed_at = row["oldest"]
    return unroutable


def _latest_per_channel(queryset: QuerySet, *order) -> QuerySet:
    """The pk of each channel's first row of `queryset` in `order`, as a subquery."""
    latest = queryset.filter(channel=OuterRef("pk")).order_by(*order).values("pk")[:1]
    return Channel.objects.annotate(latest=Subquery(latest)).values("latest")


def _add_runs(channels: dict[int, ChannelFigures]) -> None:
    succeeded = ReconciliationRun.objects.filter(status=RunStatus.SUCCEEDED)
    order = (F("finished_at").desc(nulls_last=True), "-pk")
    syncs = succeeded.filter(kind__in=[RunKind.MESSAGES, RunKind.TEMPLATES])
    checks = succeeded.filter(kind=RunKind.INTEGRITY)
    runs = ReconciliationRun.objects.filter(
        Q(pk__in=_latest_per_channel(syncs, *order)) | Q(pk__in=_latest_per_channel(checks, *order))
    ).only("pk", "channel_id", "kind", "finished_at", "created", "updated", "findings")
    for run in runs:
        figures = channels.get(run.channel_id)
        if figures is None:
            continue
        differing = run.findings.get(DIFFERING_DAYS) if isinstance(run.findings, dict) else None
        summary = RunFigures(
            id=run.pk,
            kind=run.kind,
            finished_at=run.finished_at,
            created=run.created,
            updated=run.updated,
            differing_days=len(differing) if isinstance(differing, list | dict) else 0,
        )
        if run.kind == RunKind.INTEGRITY:
            figures.last_integrity_check = summary
        else:
            figures.last_run = summary


def _add_health_checks(channels: dict[int, ChannelFigures]) -> None:
    """The latest finished check of each channel: one still waiting for its webhook
    says nothing yet, and would hide the result before it for two minutes."""
    finished = WebhookHealthCheck.objects.exclude(result=HealthCheckResult.PENDING)
    checks = WebhookHealthCheck.objects.filter(
        pk__in=_latest_per_channel(finished, "-sent_at", "-pk")
    ).only("pk", "channel_id", "result", "latency_ms", "sent_at")
    for check in checks:
        figures = channels.get(check.channel_id)
        if figures is not None:
            figures.health = HealthFigures(
                id=check.pk,
                result=check.result,
                result_label=check.get_result_display(),
                latency_ms=check.latency_ms,
                sent_at=check.sent_at,
            )


def _add_windows(channels: dict[int, ChannelFigures], *, now: datetime) -> None:
    rules = window_conditions(now)
    for figures in channels.values():
        if figures.always_open:
            figures.open_windows = figures.expiring_windows = None
    rows = (
        Conversation.objects.filter(rules["open"])
        .exclude(channel__window_policy=WindowPolicy.ALWAYS_OPEN)
        .order_by()
        .values("channel_id")
        .annotate(
            open=Count("pk", filter=rules["open"]),
            expiring=Count("pk", filter=rules["expiring"]),
        )
    )
    for row in rows:
        figures = channels.get(row["channel_id"])
        if figures is not None:
            figures.open_windows = row["open"]
            figures.expiring_windows = row["expiring"]


def _add_templates(channels: dict[int, ChannelFigures]) -> None:
    """Templates Meta still lists that need someone: paused, disabled, or quality red."""
    paused = Q(status=TemplateStatus.PAUSED)
    disabled = Q(status=TemplateStatus.DISABLED)
    red = Q(quality_score=QualityScore.RED)
    rows = (
        MessageTemplate.objects.filter(is_deleted=False)
        .filter(paused | disabled | red)
        .order_by()
        .values("channel_id")
        .annotate(
            paused=Count("pk", filter=paused),
            disabled=Count("pk", filter=disabled),
            red=Count("pk", filter=red),
            problems=Count("pk"),
        )
    )
    for row in rows:
        figures = channels.get(row["channel_id"])
        if figures is not None:
            figures.templates = TemplateFigures(
                paused=row["paused"],
                disabled=row["disabled"],
                red=row["red"],
                problems=row["problems"],
            )


def _chart_start(now: datetime) -> datetime:
    """The first of the chart's hours (UTC); the last one is the hour `now` is in."""
    this_hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return this_hour - timedelta(hours=CHART_HOURS - 1)


def _hourly_webhooks(*, now: datetime, mine: Q) -> dict[tuple[int, datetime], tuple[int, int]]:
    """(organization id, hour) -> (received, failed since) for the chart."""
    rows = (
        WebhookEvent.objects.filter(mine)
        .filter(received_at__gte=_chart_start(now), organization__isnull=False)
        .annotate(hour=TruncHour("received_at", tzinfo=UTC))
        .order_by()
        .values("organization_id", "hour")
        .annotate(
            intake=Count("pk"),
            failures=Count("pk", filter=Q(status__in=FAILURE_STATUSES)),
        )
    )
    return {(row["organization_id"], row["hour"]): (row["intake"], row["failures"]) for row in rows}
