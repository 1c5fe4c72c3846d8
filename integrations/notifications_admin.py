"""Reply notifications in the admin: each conversation's email in progress (read
only, for whoever reads the conversation), and "My notification settings", a page of
one's own reached from the user links at the top of every page."""

from django import forms
from django.contrib import admin, messages
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone

from integrations.notifications_models import ReplyNotification
from integrations.notifications_settings import (
    notification_setting_get,
    notification_setting_update,
)
from tenants.admin_scope import OrganizationScopedAdmin
from tenants.admin_ui import HistoryAdminMixin, ago, short_span
from tenants.models import Role


@admin.register(ReplyNotification)
class ReplyNotificationAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    """Whether a conversation's reply email went, is waiting for its 15 minutes, or is
    being retried because the mail server refused it."""

    member_roles = {"view": Role.VIEWER}
    list_display = ["conversation", "state", "pending_count", "sent", "last_recipients"]
    list_select_related = ["conversation__contact", "conversation__channel"]
    search_fields = ["conversation__contact__name", "=conversation__contact__phone"]
    ordering = ["-updated_at", "-id"]
    fields = [
        "conversation",
        "pending_count",
        "due_at",
        "last_sent_at",
        "last_recipients",
        "sent_count",
        "attempts",
        "last_error",
    ]
    readonly_fields = fields

    @admin.display(description="State")
    def state(self, obj: ReplyNotification) -> str:
        if obj.due_at is None:
            return "Nothing pending"
        if obj.attempts:
            return f"Retrying after {obj.attempts} failed attempt(s): {obj.last_error}"
        wait = (obj.due_at - timezone.now()).total_seconds()
        return f"Pending, goes in {short_span(wait)}" if wait >= 60 else "Pending, goes now"

    @admin.display(description="Last sent", ordering="last_sent_at")
    def sent(self, obj: ReplyNotification) -> str:
        return ago(obj.last_sent_at) if obj.last_sent_at else "Never"


class NotificationSettingForm(forms.Form):
    reply_emails = forms.BooleanField(
        required=False,
        label="Email me when a customer writes",
        help_text="In a conversation assigned to me, or in an unassigned one when I am "
        "among those my organization tells (its notification addresses, or its admins). "
        "At most one email per conversation every 15 minutes.",
    )


def my_notifications_view(request):
    """The signed-in person's own settings: nobody else's can be reached from here."""
    current = notification_setting_get(user=request.user)
    # An unticked box posts nothing: an empty POST is still a submitted form.
    data = request.POST if request.method == "POST" else None
    form = NotificationSettingForm(data, initial={"reply_emails": current.reply_emails})
    if form.is_bound and form.is_valid():
        notification_setting_update(
            user=request.user, reply_emails=form.cleaned_data["reply_emails"]
        )
        state = "on" if form.cleaned_data["reply_emails"] else "off"
        messages.success(request, f"Reply emails are {state}.")
        return redirect(reverse("admin:my_notifications"))
    context = {
        **admin.site.each_context(request),
        "title": "My notification settings",
        "form": form,
        "email": request.user.email,
    }
    return TemplateResponse(request, "admin/integrations/my_notifications.html", context)
