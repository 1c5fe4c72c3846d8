"""The weekly digest in the admin: each organization's schedule, its recipients (and
who unsubscribed), and what was sent each week. Managed by the organization's admins.
"""

from django.contrib import admin

from reports.digest_models import DigestDelivery, DigestRecipient, DigestSchedule, DigestSend
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.admin_ui import HistoryAdminMixin
from tenants.models import Role

ADMINS_MANAGE = {"view": Role.ADMIN, "add": Role.ADMIN, "change": Role.ADMIN, "delete": Role.ADMIN}


@admin.register(DigestSchedule)
class DigestScheduleAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """When the digest goes. An organization without one gets Mondays 08:00, to its
    admins."""

    member_roles = ADMINS_MANAGE
    list_display = ["organization", "enabled", "weekday", "hour", "to_admins", "updated_at"]
    list_filter = ["enabled"]
    fields = ["organization", "enabled", "weekday", "hour", "to_admins"]


@admin.register(DigestRecipient)
class DigestRecipientAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """Who receives the digest besides (or instead of) the admins. An address that
    unsubscribed stays listed with the date, and is not sent to."""

    member_roles = ADMINS_MANAGE
    list_display = ["email", "organization", "source", "unsubscribed_at", "created_at"]
    list_filter = ["organization", "from_admins"]
    search_fields = ["email"]
    fields = ["organization", "email", "unsubscribed_at"]

    @admin.display(description="Source", ordering="from_admins")
    def source(self, obj: DigestRecipient) -> str:
        return "an admin (automatic)" if obj.from_admins else "added by hand"


class DigestDeliveryInline(admin.TabularInline):
    model = DigestDelivery
    fields = ["email", "status", "attempts", "last_error", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DigestSend)
class DigestSendAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    """Each week's digest of each organization, and each address's email."""

    member_roles = {"view": Role.ADMIN}
    list_display = ["week_start", "organization", "recipients", "completed_at"]
    list_filter = ["organization"]
    fields = ["organization", "week_start", "figures", "created_at", "completed_at"]
    readonly_fields = fields
    inlines = [DigestDeliveryInline]

    @admin.display(description="Emails sent")
    def recipients(self, obj: DigestSend) -> str:
        statuses = list(obj.deliveries.values_list("status", flat=True))
        return f"{statuses.count('sent')} of {len(statuses)}"
