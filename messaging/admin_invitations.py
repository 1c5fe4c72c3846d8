"""LinkedIn in the admin: invitations and relations (read-only history), and each
channel's caps shown with today's usage."""

from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from messaging.limits import limits_of
from messaging.models import (
    DailyInvitationCount,
    DailySendCount,
    Invitation,
    Relation,
    SendLimit,
)
from tenants.admin_scope import OrganizationScopedAdmin


class ReadOnlyAdmin(admin.ModelAdmin):
    """What happened, never edited: invitations move only through their services."""

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Invitation)
class InvitationAdmin(OrganizationScopedAdmin, ReadOnlyAdmin):
    list_display = [
        "contact",
        "public_identifier",
        "channel",
        "state",
        "created_at",
        "sent_at",
        "accepted_at",
        "error_code",
    ]
    list_filter = ["state", "channel"]
    list_select_related = ["contact", "channel"]
    search_fields = ["public_identifier", "provider_id", "profile", "contact__name"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-id"]


@admin.register(Relation)
class RelationAdmin(OrganizationScopedAdmin, ReadOnlyAdmin):
    list_display = ["name", "public_identifier", "provider_id", "channel", "connected_at", "source"]
    list_filter = ["source", "channel"]
    list_select_related = ["channel"]
    search_fields = ["name", "public_identifier", "provider_id"]
    ordering = ["-connected_at", "-id"]


@admin.register(SendLimit)
class SendLimitAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """A channel's limits beside what it used today (UTC), so an operator sees how
    close it is before raising or lowering a cap."""

    list_display = [
        "channel",
        "per_second",
        "messages_today",
        "invitations_today",
        "updated_at",
    ]
    list_select_related = ["channel"]
    search_fields = ["channel__name"]
    readonly_fields = ["messages_today", "invitations_today"]

    def get_queryset(self, request):
        today = timezone.now().date()
        return (
            super()
            .get_queryset(request)
            .annotate(
                sent_today=_today(DailySendCount, today),
                invited_today=_today(DailyInvitationCount, today),
            )
        )

    @admin.display(description="Messages today / daily cap")
    def messages_today(self, obj: SendLimit) -> str:
        return _usage(getattr(obj, "sent_today", None), limits_of(obj.channel, obj).daily_cap)

    @admin.display(description="Invitations today / daily cap")
    def invitations_today(self, obj: SendLimit) -> str:
        cap = limits_of(obj.channel, obj).daily_invitation_cap
        return _usage(getattr(obj, "invited_today", None), cap) if cap is not None else "-"


def _today(model, day):
    counts = model.objects.filter(channel=OuterRef("channel"), day=day).values("count")[:1]
    return Subquery(counts)


def _usage(used: int | None, cap: int | None) -> str:
    return f"{used or 0} / {cap if cap is not None else 'no cap'}"
