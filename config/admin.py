"""The admin site: Django's, with the operations dashboard on its index page.

`config.apps.SwitchboardAdminConfig` makes this the default `admin.site`, so every
app registers its models here as usual. The figures come from
`reconciliation.dashboard`; this module turns them into what the index template shows:
short texts, a tone, and the filtered admin list behind each figure.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import admin
from django.db.models import Model
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join, html_safe
from django.utils.safestring import SafeString

from conversations.models import Conversation
from providers import Provider
from reconciliation.dashboard import (
    INTAKE_PERIOD,
    ChannelFigures,
    Dashboard,
    HourFigures,
    OrganizationFigures,
    dashboard_figures,
)
from reconciliation.models import ReconciliationRun, RunKind, RunStatus, WebhookHealthCheck
from templates.models import MessageTemplate, QualityScore, TemplateStatus
from tenants.admin_scope import member_roles
from tenants.admin_ui import short_span
from tenants.models import Channel
from webhooks.models import EventStatus, FailedWebhook, WebhookEvent

# Who may see the dashboard: staff who may read the webhook events it summarises. Like
# every admin page it shows a member only their organizations (tenants.admin_scope).
DASHBOARD_PERMISSION = "webhooks.view_webhookevent"
COLUMNS = [
    ("Intake (1\u00a0h)", "Webhooks received in the last hour"),
    ("Failed", "Failed webhooks waiting for their next retry"),
    ("Dead", "Webhooks whose retries are exhausted: they need an operator"),
    ("Oldest unprocessed", "Age of the oldest webhook still received or processing"),
    ("Last reconciliation", "The latest successful message or template reconciliation"),
    ("Daily counts", "The latest integrity check: days whose counts differ"),
    ("Health check", "The latest finished webhook health check, and its latency"),
    ("Open windows", "Conversations whose 24-hour window is open now"),
    ("Expiring (1\u00a0h)", "Open windows that close within the hour"),
    ("Template problems", "Templates paused, disabled, or of red quality"),
]


@html_safe
@dataclass(frozen=True)
class Figure:
    """One figure as shown: its text, the admin list behind it, and how it reads."""

    text: str
    href: str = ""
    tone: str = ""  # "", "ok", "warn" or "bad"
    title: str = ""

    def __str__(self) -> str:
        if self.href:
            return format_html(
                '<a href="{}" class="{}" title="{}">{}</a>',
                self.href,
                self.tone,
                self.title,
                self.text,
            )
        return format_html(
            '<span class="{}" title="{}">{}</span>', self.tone, self.title, self.text
        )


# The index in the order of the work: the inbox and the queues an agent needs first,
# settings after them; the platform's own tables (superusers only) last, as Django
# orders them.
APP_ORDER = [
    "conversations",
    "webhooks",
    "templates",
    "campaigns",
    "reports",
    "reconciliation",
    "integrations",
    "messaging",
    "tenants",
]
MODEL_ORDER = {
    "conversations": ["conversation", "contact", "message", "conversationnote"],
    "campaigns": ["campaign", "enrollment"],
    "messaging": ["donotcontact", "sendlimit", "invitation", "relation"],
    "webhooks": ["failedwebhook", "webhookevent"],
    "templates": ["messagetemplate", "templateevent"],
    "reconciliation": ["reconciliationrun", "webhookhealthcheck", "healthchecksetting"],
    "tenants": ["channel", "organization"],
}


def _rank(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


class SwitchboardAdminSite(admin.AdminSite):
    def get_app_list(self, request, app_label=None):
        apps = super().get_app_list(request, app_label)
        apps.sort(key=lambda app: _rank(APP_ORDER, app["app_label"]))  # stable: A-Z after
        for app in apps:
            order = MODEL_ORDER.get(app["app_label"], [])
            app["models"].sort(key=lambda model: _rank(order, model["object_name"].lower()))
        if app_label in (None, "reports"):
            # The Reports page as the Reports app's first entry (index and sidebar).
            from reports.admin_page import reports_page_link

            reports_page_link(request, apps)
            apps.sort(key=lambda app: _rank(APP_ORDER, app["app_label"]))
        return apps

    def get_urls(self):
        # A page of one's own, for every signed-in member (the user links lead to it).
        # Imported here: that module registers admins on this very site.
        from integrations.notifications_admin import my_notifications_view
        from reports.admin_page import reports_view

        mine = path(
            "my-notifications/", self.admin_view(my_notifications_view), name="my_notifications"
        )
        reports = path("reports/", self.admin_view(reports_view), name="reports")
        return [mine, reports, *super().get_urls()]

    def index(self, request, extra_context=None):
        context = {"operations": self.operations_context(request), **(extra_context or {})}
        return super().index(request, context)

    def operations_context(self, request) -> dict | None:
        """The dashboard for the index, or None for someone who may not see it."""
        user = request.user
        if not (user.is_active and user.is_staff and user.has_perm(DASHBOARD_PERMISSION)):
            return None
        organization_ids = None if user.is_superuser else list(member_roles(request))
        figures = dashboard_figures(organization_ids=organization_ids)
        scope = "All organizations" if organization_ids is None else "Your organizations"
        return {**DashboardPage(self, figures).context(), "scope": scope}


class DashboardPage:
    """Figures to texts and links; links only to lists this site has registered."""

    def __init__(self, site: admin.AdminSite, dashboard: Dashboard):
        self.site = site
        self.dashboard = dashboard
        self.now = dashboard.now

    def context(self) -> dict:
        unroutable = self.dashboard.unroutable
        return {
            "now": self.now,
            "columns": COLUMNS,
            "organizations": [self.organization(o) for o in self.dashboard.organizations],
            "unroutable": Figure(
                f"{unroutable} webhook(s) in the queue belong to no channel",
                self.list_url(FailedWebhook, channel__isnull="True"),
                "bad",
            )
            if unroutable
            else None,
        }

    def list_url(self, model: type[Model], **filters) -> str:
        if not self.site.is_registered(model):
            return ""
        opts = model._meta
        url = reverse(f"{self.site.name}:{opts.app_label}_{opts.model_name}_changelist")
        return f"{url}?{urlencode(filters)}" if filters else url

    def organization(self, figures: OrganizationFigures) -> dict:
        org = figures.organization
        by_org = {"organization__id__exact": org.pk}
        since = (self.now - INTAKE_PERIOD).isoformat()
        return {
            "name": org.name,
            "totals": [
                Figure(
                    f"{figures.intake_last_hour} received in the last hour",
                    self.list_url(WebhookEvent, received_at__gte=since, **by_org),
                ),
                self.queue_figure(figures.failed, "failed", EventStatus.FAILED, by_org),
                self.queue_figure(figures.dead, "dead", EventStatus.DEAD, by_org),
            ],
            "rows": [self.channel(channel) for channel in figures.channels],
            "chart": intake_chart(figures.hours, label=org.name),
        }

    def queue_figure(self, count: int, label: str, status: str, filters: dict) -> Figure:
        tone = ("bad" if status == EventStatus.DEAD else "warn") if count else ""
        url = self.list_url(FailedWebhook, status__exact=status, **filters)
        return Figure(f"{count} {label}".strip(), url, tone)

    def channel(self, figures: ChannelFigures) -> dict:
        channel = figures.channel
        by_channel = {"channel__id__exact": channel.pk}
        return {
            "channel": Figure(channel.name, self.change_url(channel)),
            "about": channel.get_provider_display() + ("" if channel.is_active else " · inactive"),
            "cells": [
                [self.intake(figures, by_channel)],
                [self.queue_figure(figures.failed, "", EventStatus.FAILED, by_channel)],
                [self.queue_figure(figures.dead, "", EventStatus.DEAD, by_channel)],
                [self.oldest_unprocessed(figures, by_channel)],
                [self.last_run(figures, by_channel)],
                [self.integrity(figures, by_channel)],
                [self.health(figures, by_channel)],
                *self.windows(figures, by_channel),
                self.templates(figures, by_channel),
            ],
        }

    def age(self, moment: datetime) -> str:
        """ "42 min", "3 h", "5 d": short, so that the table fits a laptop's screen."""
        return short_span((self.now - moment).total_seconds())

    def change_url(self, channel: Channel) -> str:
        if not self.site.is_registered(Channel):
            return ""
        return reverse(f"{self.site.name}:tenants_channel_change", args=[channel.pk])

    def intake(self, figures: ChannelFigures, by_channel: dict) -> Figure:
        since = (self.now - INTAKE_PERIOD).isoformat()
        url = self.list_url(WebhookEvent, received_at__gte=since, **by_channel)
        return Figure(str(figures.intake_last_hour), url)

    def oldest_unprocessed(self, figures: ChannelFigures, by_channel: dict) -> Figure:
        oldest = figures.oldest_unprocessed_at
        if oldest is None:
            return Figure("—", title="Nothing waiting")
        age = self.now - oldest
        # Older than the lease: its task or worker was lost, and the sweep is behind.
        late = age > timedelta(seconds=settings.WEBHOOK_PROCESSING_LEASE_SECONDS)
        return Figure(
            self.age(oldest),
            self.list_url(
                WebhookEvent,
                status__in=f"{EventStatus.RECEIVED},{EventStatus.PROCESSING}",
                **by_channel,
            ),
            "bad" if late else "",
            title=f"Received {_when(oldest)}",
        )

    def last_run(self, figures: ChannelFigures, by_channel: dict) -> Figure:
        run = figures.last_run
        if run is None:
            return Figure("never", title="No successful reconciliation yet")
        url = self.list_url(ReconciliationRun, status__exact=RunStatus.SUCCEEDED, **by_channel)
        ago = f"{self.age(run.finished_at)} ago" if run.finished_at else ""
        return Figure(
            f"{ago} · {run.created} created, {run.updated} updated",
            url,
            title=f"{RunKind(run.kind).label}, finished {_when(run.finished_at)}",
        )

    def integrity(self, figures: ChannelFigures, by_channel: dict) -> Figure:
        check = figures.last_integrity_check
        if check is None:
            return Figure("—", title="No integrity check yet")
        url = self.list_url(
            ReconciliationRun,
            kind__exact=RunKind.INTEGRITY,
            status__exact=RunStatus.SUCCEEDED,
            **by_channel,
        )
        title = f"Checked {_when(check.finished_at)}"
        if check.differing_days:
            return Figure(f"{check.differing_days} day(s) differ", url, "warn", title)
        return Figure("all days match", url, "ok", title)

    def health(self, figures: ChannelFigures, by_channel: dict) -> Figure:
        check = figures.health
        if check is None:
            return Figure("—", title="No finished health check")
        text = check.result_label
        if check.latency_ms is not None:
            text += f" · {_latency(check.latency_ms)}"
        return Figure(
            text,
            self.list_url(WebhookHealthCheck, **by_channel),
            "ok" if check.ok else "bad",
            title=f"Sent {_when(check.sent_at)}",
        )

    def windows(self, figures: ChannelFigures, by_channel: dict) -> list[list[Figure]]:
        if figures.always_open:
            always = Figure("always open", title="This channel has no 24-hour window")
            return [[always], [Figure("—")]]
        open_ = Figure(
            str(figures.open_windows), self.list_url(Conversation, window="open", **by_channel)
        )
        expiring = Figure(
            str(figures.expiring_windows),
            self.list_url(Conversation, window="expiring", **by_channel),
            "warn" if figures.expiring_windows else "",
        )
        return [[open_], [expiring]]

    def templates(self, figures: ChannelFigures, by_channel: dict) -> list[Figure]:
        counts = figures.templates
        if not counts.problems:
            return [Figure("0" if _has_templates(figures) else "—")]
        listed = {"removed": "no", **by_channel}
        parts = [
            (counts.paused, "paused", {"status": TemplateStatus.PAUSED}),
            (counts.disabled, "disabled", {"status": TemplateStatus.DISABLED}),
            (counts.red, "quality red", {"quality_score__exact": QualityScore.RED}),
        ]
        return [
            Figure(f"{count} {label}", self.list_url(MessageTemplate, **filters, **listed), tone)
            for (count, label, filters), tone in zip(parts, ["warn", "bad", "bad"], strict=True)
            if count
        ]


def _has_templates(figures: ChannelFigures) -> bool:
    return figures.channel.provider == Provider.WHATSAPP_CLOUD


def _when(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "—"


def _latency(milliseconds: int) -> str:
    return f"{milliseconds} ms" if milliseconds < 1000 else f"{milliseconds / 1000:.1f} s"


CHART_BAR, CHART_GAP, CHART_HEIGHT = 12, 2, 60


def intake_chart(hours: list[HourFigures], *, label: str) -> SafeString:
    """Webhooks received per hour (grey) and those of them that failed (red), as an
    inline SVG: no script, no asset. Each bar's tooltip gives its hour and counts."""
    peak = max((hour.intake for hour in hours), default=0)
    scale = CHART_HEIGHT / peak if peak else 0
    step = CHART_BAR + CHART_GAP
    width = step * len(hours)
    received, failed = sum(h.intake for h in hours), sum(h.failures for h in hours)

    def bar(index: int, hour: HourFigures) -> tuple:
        x = index * step
        intake_h, failed_h = round(hour.intake * scale, 1), round(hour.failures * scale, 1)
        return (
            f"{hour.start:%H:%M} UTC: {hour.intake} received, {hour.failures} failed",
            x,
            CHART_HEIGHT - intake_h,
            CHART_BAR,
            intake_h,
            x,
            CHART_HEIGHT - failed_h,
            CHART_BAR,
            failed_h,
        )

    bars = format_html_join(
        "",
        '<g class="hour"><title>{}</title>'
        '<rect class="intake" x="{}" y="{}" width="{}" height="{}" fill="#9fb7c9"/>'
        '<rect class="failures" x="{}" y="{}" width="{}" height="{}" fill="#dc3545"/></g>',
        (bar(i, hour) for i, hour in enumerate(hours)),
    )
    return format_html(
        '<svg class="intake-chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        'width="{}" height="{}" viewBox="0 0 {} {}" aria-label="{}">'
        '<line x1="0" y1="{}" x2="{}" y2="{}" stroke="#ccc"/>{}'
        '<text x="0" y="{}" font-size="10" fill="#666">24 h ago</text>'
        '<text x="{}" y="{}" font-size="10" fill="#666" text-anchor="end">now</text>'
        '<text x="{}" y="{}" font-size="10" fill="#666" text-anchor="middle">'
        "peak {} per hour</text></svg>",
        width,
        CHART_HEIGHT + 14,
        width,
        CHART_HEIGHT + 14,
        f"{label}: {received} webhooks received and {failed} failed in the last 24 hours",
        CHART_HEIGHT,
        width,
        CHART_HEIGHT,
        bars,
        CHART_HEIGHT + 12,
        width,
        CHART_HEIGHT + 12,
        width // 2,
        CHART_HEIGHT + 12,
        peak,
    )
