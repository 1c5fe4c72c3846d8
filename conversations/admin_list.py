"""The conversation list's columns: dense enough to fit a 1,366 px laptop screen.

Who and where in one cell (contact, then channel and the last message, quieter),
short badges and relative ages; the exact time is on hover. Everything is read from
the row and its select_related contact, channel and assignee: no query per row.
"""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from conversations.models import Conversation, ConversationStatus
from tenants.admin_ui import AMBER, BLUE, GREEN, GREY, ago, badge

STATUS_COLOURS = {
    ConversationStatus.OPEN: GREEN,
    ConversationStatus.PENDING: AMBER,
    ConversationStatus.SNOOZED: BLUE,
    ConversationStatus.CLOSED: GREY,
}


class ConversationListColumns:
    """Mixed into ConversationAdmin: its list_display and the columns' methods."""

    list_display = [*("conversation", "status_badge", "unread_badge", "last_activity", "window")]
    # The contact's name links to the page (below); its quieter lines do not.
    list_display_links = None

    @admin.display(description="Conversation", ordering="contact__name")
    def conversation(self, obj: Conversation) -> str:
        url = reverse("admin:conversations_conversation_change", args=[obj.pk])
        return format_html(
            '<a href="{}"><strong>{}</strong></a><div class="sb-sub">{}</div>'
            '<div class="sb-preview" title="{}">{}</div>',
            url,
            obj.contact,
            obj.channel,
            obj.last_message_preview,
            obj.last_message_preview,
        )

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: Conversation) -> str:
        """The status, and below it who holds the conversation (or until when it sleeps)."""
        label = badge(STATUS_COLOURS.get(obj.status, GREY), obj.get_status_display())
        if obj.status == ConversationStatus.SNOOZED and obj.snoozed_until:
            return format_html(
                '{}<div class="sb-sub">until {:%b %d, %H:%M} UTC</div>{}',
                label,
                obj.snoozed_until,
                _assignee_line(obj),
            )
        return format_html("{}{}{}", label, _assignee_line(obj), _bot_line(obj))

    @admin.display(description="Activity", ordering="last_activity_at")
    def last_activity(self, obj: Conversation) -> str:
        return ago(obj.last_activity_at)

    @admin.display(description="Unread", ordering="unread_count", empty_value="")
    def unread_badge(self, obj: Conversation) -> str:
        return badge(BLUE, str(obj.unread_count)) if obj.unread_count else ""


def _bot_line(obj: Conversation) -> str:
    """A bot answers it (annotated by the admin's queryset, conversations.bots)."""
    if getattr(obj, "bot_handling", False):
        return mark_safe(
            '<div class="sb-sub sb-bot" title="An automated responder answers">bot</div>'
        )
    return ""


def _assignee_line(obj: Conversation) -> str:
    if obj.assignee is None:
        return mark_safe('<div class="sb-sub sb-unassigned">unassigned</div>')
    name = obj.assignee.get_full_name() or obj.assignee.get_username()
    return format_html('<div class="sb-sub sb-assignee">{}</div>', name)
