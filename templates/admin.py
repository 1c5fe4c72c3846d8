"""Message templates for support staff: what Meta says of each, and its history.

Templates are read-only pages (Meta owns them: changes come from webhooks and the
sync); the list's action syncs from Meta through the service, and reports the counts.
"""

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from providers import Provider
from providers.http import ProviderError
from providers.whatsapp_templates import CATEGORIES, NAMED, POSITIONAL
from templates.models import MessageTemplate, QualityScore, TemplateEvent, TemplateStatus
from templates.services import template_submit, templates_sync
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.admin_ui import AMBER, BLUE, GREEN, GREY, RED, HistoryAdminMixin, badge
from tenants.errors import ApplicationError, ErrorCode
from tenants.models import Channel, Role

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


def statusbadge(template: MessageTemplate) -> str:
    if template.is_deleted:
        return badge(GREY, f"removed ({template.status or 'unknown'})")
    return badge(STATUS_COLOURS.get(template.status, GREY), template.status or "unknown")


def qualitybadge(template: MessageTemplate) -> str:
    return badge(
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


class TemplateSubmitForm(forms.Form):
    """A new template as Meta's create call takes it; checked by the service."""

    channel = forms.ModelChoiceField(
        queryset=Channel.objects.filter(provider=Provider.WHATSAPP_CLOUD, is_active=True)
        .exclude(waba_id="")
        .order_by("name")
    )
    name = forms.CharField(max_length=512, help_text="Lowercase letters, digits, underscores.")
    language = forms.CharField(max_length=32, initial="en_US")
    category = forms.ChoiceField(choices=[(c, c.title()) for c in CATEGORIES])
    parameter_format = forms.ChoiceField(
        choices=[(NAMED, "Named: {{day}}"), (POSITIONAL, "Positional: {{1}}")]
    )
    allow_category_change = forms.BooleanField(required=False)
    components = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 12, "cols": 80}),
        help_text='JSON list, e.g. [{"type": "body", "text": "Hi {{name}}", "example": '
        '{"body_text_named_params": [{"param_name": "name", "example": "Ada"}]}}].',
    )

    def clean_components(self) -> list:
        try:
            components = json.loads(self.cleaned_data["components"])
        except ValueError as exc:
            raise forms.ValidationError(f"Not JSON: {exc}") from exc
        if not isinstance(components, list):
            raise forms.ValidationError("A JSON list of components.")
        return components

    def payload(self) -> dict:
        data = {key: value for key, value in self.cleaned_data.items() if key != "channel"}
        return {**data, "category": data["category"].upper()}

    def add_service_errors(self, error: ApplicationError) -> None:
        """Field problems go on their fields; anything else (Meta's refusal, its rate
        limit) above the form, in the service's words."""
        if error.code != ErrorCode.VALIDATION_ERROR:
            self.add_error(None, f"{error.code}: {error.message}")
            return
        for field, problems in error.details.items():
            for problem in problems:
                text = problem["message"] if isinstance(problem, dict) else str(problem)
                self.add_error(field if field in self.fields else None, text)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
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
        return False  # new templates are submitted to Meta (submit_view), not typed in

    def get_urls(self):
        submit = path(
            "submit/",
            self.admin_site.admin_view(self.submit_view),
            name="templates_messagetemplate_submit",
        )
        return [submit, *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        can_submit = self.has_change_permission(request)
        return super().changelist_view(request, {**(extra_context or {}), "can_submit": can_submit})

    def submit_view(self, request):
        if not self.has_change_permission(request):
            raise PermissionDenied
        form = TemplateSubmitForm(request.POST or None)
        template = self._submitted(form) if form.is_valid() else None
        if template is not None:
            self.message_user(request, f"Submitted {template.name}: Meta says {template.status}.")
            return redirect(reverse("admin:templates_messagetemplate_change", args=[template.pk]))
        context = {
            **self.admin_site.each_context(request),
            "title": "Submit a template to Meta",
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/templates/messagetemplate/submit.html", context)

    def _submitted(self, form: TemplateSubmitForm) -> MessageTemplate | None:
        """The template Meta took, or None with the reasons on the form."""
        try:
            return template_submit(channel=form.cleaned_data["channel"], payload=form.payload())
        except ApplicationError as error:
            form.add_service_errors(error)
        except ProviderError as error:
            form.add_error(None, f"Meta refused it: {error}")
        return None

    def has_change_permission(self, request, obj=None) -> bool:
        # The list (and its action) may change; a single template's page is a view.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # Meta owns templates; the API deletes them there

    @admin.display(description="Status", ordering="status")
    def status_column(self, obj: MessageTemplate) -> str:
        return statusbadge(obj)

    @admin.display(description="Quality", ordering="quality_score")
    def quality_column(self, obj: MessageTemplate) -> str:
        return qualitybadge(obj)

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
class TemplateEventAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    """Every template's history: viewed, never edited."""

    member_roles = {"view": Role.VIEWER}
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

    @admin.display(description="Change")
    def change(self, obj: TemplateEvent) -> str:
        return f"{obj.old_value or '—'} → {obj.new_value or '—'}"

    @admin.display(description="Details")
    def details_block(self, obj: TemplateEvent) -> str:
        return _json_block(obj.details)
