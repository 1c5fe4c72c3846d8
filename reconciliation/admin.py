"""Webhook health checks for support staff: which channels are checked and where the
test goes (editable), and every check's result (history, read-only)."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html

import reconciliation.admin_schedules  # noqa: F401 - registers the periodic tasks' admin
from providers import Provider
from providers.phones import InvalidPhoneNumberError, to_e164
from reconciliation import services
from reconciliation.health import HealthCheckNotEnabledError, health_check_run
from reconciliation.models import (
    HealthCheckResult,
    HealthCheckSetting,
    ReconciliationRun,
    RunStatus,
    RunTrigger,
    WebhookHealthCheck,
)
from tenants.admin import ChannelAdmin
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.admin_ui import AMBER, BLUE, GREEN, GREY, RED, HistoryAdminMixin, badge
from tenants.errors import ApplicationError
from tenants.models import Channel, Role

RESULT_COLOURS = {
    HealthCheckResult.PENDING: BLUE,
    HealthCheckResult.CONFIRMED: GREEN,
    HealthCheckResult.TIMED_OUT: RED,
    HealthCheckResult.SEND_FAILED: AMBER,
}


def result_badge(result: str | None) -> str:
    if not result:
        return format_html('<span style="color:{}">never checked</span>', GREY)
    return badge(RESULT_COLOURS.get(result, GREY), HealthCheckResult(result).label)


def latency(milliseconds: int | None) -> str:
    if milliseconds is None:
        return "—"
    if milliseconds < 10_000:
        return f"{milliseconds} ms"
    return f"{milliseconds / 1000:.1f} s"


class HealthCheckSettingForm(forms.ModelForm):
    class Meta:
        model = HealthCheckSetting
        fields = ["channel", "enabled", "test_recipient", "template_name", "template_language"]

    def clean(self):
        cleaned = super().clean()
        channel = cleaned.get("channel")
        recipient = cleaned.get("test_recipient", "").strip()
        if channel is None or not recipient:
            return cleaned
        provider = Provider(channel.provider)
        if provider != Provider.UNIPILE:
            try:
                cleaned["test_recipient"] = to_e164(recipient)
            except InvalidPhoneNumberError as exc:
                self.add_error("test_recipient", str(exc))
        if cleaned.get("template_name") and provider != Provider.WHATSAPP_CLOUD:
            self.add_error("template_name", "Templates are sent on WhatsApp channels only.")
        return cleaned


@admin.register(HealthCheckSetting)
class HealthCheckSettingAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    form = HealthCheckSettingForm
    list_display = [
        "channel",
        "organization",
        "enabled",
        "test_recipient",
        "template_name",
        "last_result",
        "last_latency",
        "updated_at",
    ]
    list_filter = ["enabled", "channel__provider", "channel__organization"]
    search_fields = ["channel__name", "channel__organization__name", "test_recipient"]
    list_select_related = ["channel__organization"]
    actions = ["check_now"]

    def get_queryset(self, request):
        latest = WebhookHealthCheck.objects.filter(channel_id=OuterRef("channel_id")).order_by(
            "-sent_at", "-id"
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                last_check_id=Subquery(latest.values("id")[:1]),
                last_check_result=Subquery(latest.values("result")[:1]),
                last_check_latency=Subquery(latest.values("latency_ms")[:1]),
            )
        )

    @admin.display(description="Organization", ordering="channel__organization__name")
    def organization(self, obj: HealthCheckSetting) -> str:
        return obj.channel.organization.name

    @admin.display(description="Last check", ordering="last_check_result")
    def last_result(self, obj: HealthCheckSetting) -> str:
        if obj.last_check_id is None:
            return result_badge(None)
        url = reverse("admin:reconciliation_webhookhealthcheck_change", args=[obj.last_check_id])
        return format_html('<a href="{}">{}</a>', url, result_badge(obj.last_check_result))

    @admin.display(description="Latency", ordering="last_check_latency")
    def last_latency(self, obj: HealthCheckSetting) -> str:
        return latency(obj.last_check_latency)

    @admin.action(description="Check now (send a test message)", permissions=["change"])
    def check_now(self, request, queryset) -> None:
        sent, failed, skipped = 0, 0, 0
        for setting in queryset.select_related("channel"):
            try:
                check = health_check_run(channel=setting.channel)
            except HealthCheckNotEnabledError:
                skipped += 1
                continue
            if check.result == HealthCheckResult.SEND_FAILED:
                failed += 1
                self.message_user(request, f"{setting.channel}: {check.error}", messages.ERROR)
            else:
                sent += 1
        note = f"; {skipped} skipped (not enabled)" if skipped else ""
        self.message_user(
            request,
            f"Sent {sent} test message(s), {failed} could not be sent{note}. Results appear "
            "in Webhook health checks within a minute of the webhook.",
            messages.SUCCESS if not failed else messages.WARNING,
        )


@admin.register(WebhookHealthCheck)
class WebhookHealthCheckAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    """History: each check as it ended; never edited here."""

    member_roles = {"view": Role.VIEWER}
    list_display = [
        "sent_at",
        "badge",
        "latency_column",
        "channel",
        "organization",
        "confirmed_at",
        "error_summary",
    ]
    list_filter = ["result", "channel", "organization", "sent_at"]
    search_fields = ["channel__name", "error"]
    list_select_related = ["channel", "organization"]
    date_hierarchy = "sent_at"
    ordering = ["-sent_at", "-id"]
    fields = [
        "badge",
        "channel",
        "organization",
        "sent_at",
        "confirmed_at",
        "latency_column",
        "test_message",
        "error",
    ]
    readonly_fields = fields

    @admin.display(description="Result", ordering="result")
    def badge(self, obj: WebhookHealthCheck) -> str:
        return result_badge(obj.result)

    @admin.display(description="Latency", ordering="latency_ms")
    def latency_column(self, obj: WebhookHealthCheck) -> str:
        return latency(obj.latency_ms)

    @admin.display(description="Error")
    def error_summary(self, obj: WebhookHealthCheck) -> str:
        return obj.error.splitlines()[0][:120] if obj.error else ""

    @admin.display(description="Test message")
    def test_message(self, obj: WebhookHealthCheck) -> str:
        if obj.message_id is None:
            return "—"
        url = reverse("admin:conversations_message_change", args=[obj.message_id])
        return format_html('<a href="{}">message #{}</a>', url, obj.message_id)


# --- reconciliation runs ------------------------------------------------------------

RUN_COLOURS = {
    RunStatus.SUCCEEDED: GREEN,
    RunStatus.RUNNING: BLUE,
    RunStatus.QUEUED: GREY,
    RunStatus.FAILED: RED,
    RunStatus.CANCELLED: GREY,
}


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """History of runs: what each read and changed; failed ones can be resumed."""

    member_roles = {"view": Role.VIEWER, "change": Role.ADMIN}
    list_display = [
        "created_at",
        "channel",
        "kind",
        "status_badge",
        "trigger",
        "fetched",
        "created",
        "updated",
        "unchanged",
        "errors",
        "finished_at",
    ]
    list_filter = ["status", "kind", "trigger", "channel__provider", "channel", "organization"]
    list_select_related = ["channel"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]
    actions = ["resume"]
    readonly_fields = [field.name for field in ReconciliationRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    @admin.display(description="Status", ordering="status")
    def status_badge(self, run: ReconciliationRun) -> str:
        return badge(RUN_COLOURS[RunStatus(run.status)], run.get_status_display())

    @admin.action(description="Resume (failed or queued runs)", permissions=["change"])
    def resume(self, request, queryset) -> None:
        runs = list(queryset.filter(status__in=[RunStatus.FAILED, RunStatus.QUEUED]))
        for run in runs:
            _queue_run(run)
        self.message_user(request, f"{len(runs)} run(s) queued to resume from their cursor.")


def _queue_run(run: ReconciliationRun) -> None:
    from reconciliation.tasks import reconciliation_run_task

    transaction.on_commit(lambda: reconciliation_run_task.delay(run.pk))


class ReconcilingChannelAdmin(ChannelAdmin):
    """The channels admin, with "reconcile now" added by the reconciliation app."""

    actions = [*ChannelAdmin.actions, "reconcile_now"]

    @admin.action(description="Reconcile now (last 48 hours)", permissions=["change"])
    def reconcile_now(self, request, queryset) -> None:
        for channel in queryset.filter(is_active=True):
            try:
                run = services.run_create(
                    channel=channel, trigger=RunTrigger.ADMIN, requested_by=request.user
                )
            except ApplicationError as error:
                self.message_user(request, f"{channel}: {error.message}", messages.WARNING)
                continue
            _queue_run(run)
            self.message_user(request, f"{channel}: {run.get_kind_display()} run {run.pk} queued.")


admin.site.unregister(Channel)
admin.site.register(Channel, ReconcilingChannelAdmin)
