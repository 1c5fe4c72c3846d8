"""The operators' alert incidents in the admin: a read-only history; and each channel's
learned quiet period, which the quiet-channel alert compares silences with.

Scoped like every admin page (tenants.admin_scope): superusers (the operators) see
every incident; an organization's staff see only their channels' quiet-channel
incidents, the platform-wide ones (webhook backlog, queues) having no organization."""

import json

from django.contrib import admin
from django.utils.html import format_html

from reports.alert_models import AlertIncident, ChannelQuietPeriod
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.admin_ui import HistoryAdminMixin
from tenants.models import Role


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(resolved_at__isnull=True)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(AlertIncident)
class AlertIncidentAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    member_roles = {"view": Role.VIEWER}
    list_display = [
        "opened_at",
        "state",
        "kind",
        "key",
        "summary",
        "channel",
        "organization",
        "last_seen_at",
        "resolved_at",
    ]
    list_filter = [OpenFilter, "kind", "organization", "opened_at"]
    search_fields = ["key", "summary", "channel__name"]
    list_select_related = ["channel", "organization"]
    date_hierarchy = "opened_at"
    ordering = ["-opened_at", "-id"]
    fields = [
        "kind",
        "key",
        "summary",
        "state",
        "channel",
        "organization",
        "opened_at",
        "last_seen_at",
        "resolved_at",
        "opened_notified_at",
        "resolved_notified_at",
        "details_pretty",
    ]
    readonly_fields = fields

    @admin.display(description="State", ordering="resolved_at")
    def state(self, obj: AlertIncident) -> str:
        if obj.is_open:
            return format_html('<strong style="color:#ba2121">{}</strong>', "open")
        return "resolved"

    @admin.display(description="Details")
    def details_pretty(self, obj: AlertIncident) -> str:
        return format_html("<pre>{}</pre>", json.dumps(obj.details, indent=2, sort_keys=True))


@admin.register(ChannelQuietPeriod)
class ChannelQuietPeriodAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    """Learned daily (reports.quiet); read here to see why a channel was, or was not,
    reported quiet."""

    member_roles = {"view": Role.VIEWER}
    list_display = ["channel", "quiet", "webhooks", "usual", "computed_at"]
    list_filter = ["usual"]
    search_fields = ["channel__name"]
    list_select_related = ["channel"]
    ordering = ["channel__name", "pk"]
    fields = ["channel", "quiet", "webhooks", "usual", "computed_at"]
    readonly_fields = fields

    @admin.display(description="Usual quiet period", ordering="quiet_seconds")
    def quiet(self, obj: ChannelQuietPeriod) -> str:
        hours, seconds = divmod(obj.quiet_seconds, 3600)
        return f"{hours} h {seconds // 60:02d} min" if hours else f"{seconds // 60} min"
