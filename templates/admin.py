"""Message templates for support staff: what Meta says of each, and its history.

Templates are read-only pages (Meta owns them: changes come from webhooks and the
sync); the list's action syncs from Meta through the service, and reports the counts.
"""

import json

from django.contrib import admin, messages
from django.utils.html import format_html

from providers.http import ProviderError
from templates.models import MessageTemplate, QualityScore, TemplateEvent, TemplateStatus
from templates.services import templates_sync
from tenants.errors import ApplicationError
from tenants.models import Channel

GREEN, AMBER, RED, BLUE, GREY = "#198754", "#fd7e14", "#dc3545", "#0d6efd", "#6c757d"
STATUS_COLOURS = {
    TemplateStatus.APPROVED: GREEN,
    TemplateStatus.REINSTATED: GREEN,
    TemplateStatus.PENDING: BLUE,
    TemplateStatus.IN_APPEAL: BLUE,
    TemplateStatus.PAUSED: AMBER,
    TemplateStatus.FLAGGED: AMBER,
    TemplateStatus.LIMIT_EXCEEDED: AMBER,
    TemplateStatus.REJECTED: RED,
    TemplateStatus.DISABLED: RED,
    TemplateStatus.LOCKED: RED,
}
QUALITY_COLOURS = {
    QualityScore.GREEN: GREEN,
    QualityScore.YELLOW: AMBER,
    QualityScore.RED: RED,
    QualityScore.UNKNOWN: GREY,
}


def _badge(colour: str, text: str) -> str:
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;'
        'white-space:nowrap">{}</span>',
        colour,
        text,
    )


def status_badge(template: MessageTemplate) -> str:
    if template.is_deleted:
        return _badge(GREY, f"removed ({template.status or 'unknown'})")
    return _badge(STATUS_COLOURS.get(template.status, GREY), template.status or "unknown")


def quality_badge(template: MessageTemplate) -> str:
    return _badge(
        QUALITY_COLOURS.get(template.quality_score, GREY), template.quality_score or "UNKNOWN"
    )


def _json_block(value) -> str:
    return format_html(
        "<pre style='white-space:pre-wrap;max-height:30em;overflow:auto'>{}</pre>",
        json.dumps(value, indent=2, ensure_ascii=False),
    )


class TemplateEventInline(admin.TabularInline):
    """The template's history, newest first; read-only."""

    model = TemplateEvent
    extra = 0
    max_num = 0
    can_delete = False
    ordering = ["-occurred_at", "-id"]
    fields = ["occurred_at", "kind", "source", "change", "reason", "details"]
    readonly_fields = fields
    verbose_name_plural = "history"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Change")
    def change(self, obj: TemplateEvent) -> str:
        return f"{obj.old_value or '—'} → {obj.new_value or '—'}"


class RemovedFilter(admin.SimpleListFilter):
    title = "listed by Meta"
    parameter_name = "removed"

    def lookups(self, request, model_admin):
        return [("no", "Listed"), ("yes", "Removed")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(is_deleted=self.value() == "yes")
        return queryset


@admin.register(MessageTemplate)
class MessageTemplateAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "language",
        "status_column",
        "quality_column",
        "category",
        "channel",
        "last_synced_at",
    ]
    list_filter = [
        "status",
        "quality_score",
        "category",
        RemovedFilter,
        "language",
        "channel",
        "organization",
    ]
    search_fields = ["name", "=provider_template_id"]
    search_help_text = "Template name, or Meta's template id."
    list_select_related = ["channel"]
    ordering = ["name", "language"]
    actions = ["sync_from_meta"]
    fieldsets = [
        (
            "Template",
            {
                "fields": [
                    "name",
                    "language",
                    "status_column",
                    "quality_column",
                    "category",
                    "parameter_format",
                    "rejection_reason",
                    "allow_category_change",
                ]
            },
        ),
        ("Content", {"fields": ["components_block"]}),
        (
            "Meta",
            {
                "fields": [
                    "organization",
                    "channel",
                    "provider_template_id",
                    "last_synced_at",
                    "is_deleted",
                    "removed_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
    ]
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]
    inlines = [TemplateEventInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The list (and its action) may change; a single template's page is a view.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # Meta owns templates; the API deletes them there

    @admin.display(description="Status", ordering="status")
    def status_column(self, obj: MessageTemplate) -> str:
        return status_badge(obj)

    @admin.display(description="Quality", ordering="quality_score")
    def quality_column(self, obj: MessageTemplate) -> str:
        return quality_badge(obj)

    @admin.display(description="Components")
    def components_block(self, obj: MessageTemplate) -> str:
        return _json_block(obj.components)

    @admin.action(description="Sync templates from Meta", permissions=["change"])
    def sync_from_meta(self, request, queryset) -> None:
        channels = Channel.objects.filter(pk__in=queryset.values("channel_id")).order_by("name")
        for channel in channels:
            try:
                report = templates_sync(channel=channel)
            except (ProviderError, ApplicationError) as exc:
                self.message_user(request, f"{channel.name}: sync failed: {exc}", messages.ERROR)
                continue
            level = messages.SUCCESS if report.complete else messages.WARNING
            self.message_user(request, f"{channel.name}: {report.summary()}.", level)


@admin.register(TemplateEvent)
class TemplateEventAdmin(admin.ModelAdmin):
    """Every template's history: viewed, never edited."""

    list_display = ["occurred_at", "template", "kind", "source", "change", "reason"]
    list_filter = ["kind", "source", "template__channel"]
    search_fields = ["template__name", "=template__provider_template_id", "event_id"]
    search_help_text = "Template name, Meta's template id, or the webhook event id."
    list_select_related = ["template"]
    date_hierarchy = "occurred_at"
    ordering = ["-occurred_at", "-id"]
    fields = [
        "template",
        "kind",
        "source",
        "change",
        "reason",
        "details_block",
        "event_id",
        "occurred_at",
        "created_at",
    ]
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Change")
    def change(self, obj: TemplateEvent) -> str:
        return f"{obj.old_value or '—'} → {obj.new_value or '—'}"

    @admin.display(description="Details")
    def details_block(self, obj: TemplateEvent) -> str:
        return _json_block(obj.details)
