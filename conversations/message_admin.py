"""The admin's pages of messages and what happens to them: the message list and page
(with its reactions, edit history and failures), reactions, and changes waiting for
their message. Read-only history: statuses, reactions and edits come from providers.
"""

from django.contrib import admin
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from conversations.models import Message, MessageReaction, PendingMessageChange
from conversations.selectors import MESSAGE_ORDER, message_reactions, message_search_condition
from tenants.admin_scope import OrganizationScopedAdmin, organizations_allowing
from tenants.admin_ui import HistoryAdminMixin
from tenants.models import Role

TIME = "%Y-%m-%d %H:%M:%S"


class ErrorFilter(admin.SimpleListFilter):
    title = "error code"
    parameter_name = "has_error"

    def lookups(self, request, model_admin):
        return [("yes", "Has an error code"), ("no", "No error code")]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.exclude(error_code="")
        if self.value() == "no":
            return queryset.filter(error_code="")
        return queryset


def message_text(message: Message, *, length: int) -> str:
    text = Truncator(message.text).chars(length)
    if message.deleted_at is not None:
        return format_html("<del>{}</del> <em>(deleted by its sender)</em>", text)
    if message.edited_at is not None:
        return format_html("{} <em>(edited)</em>", text)
    return format_html("{}{}", text, call_media_links(message))


def call_media_links(message: Message) -> str:
    """For a call, its voicemail and recordings to listen to."""
    call = message.payload.get("call") if message.type == "call" else None
    if not call:
        return ""
    media = [("voicemail", (call.get("voicemail") or {}).get("url"))]
    media += [("recording", recording.get("url")) for recording in call.get("recordings", [])]
    return format_html_join(
        "",
        ' · <a href="{}" target="_blank" rel="noopener">{}</a>',
        ((url, name) for name, url in media if url),
    )


def reactions_line(reactions: list[MessageReaction]) -> str:
    """ "👍 customer, ❤️ business": each reactor's current reaction."""
    if not reactions:
        return "—"
    return ", ".join(
        f"{reaction.emoji} {'business' if reaction.direction == 'outbound' else 'customer'}"
        for reaction in reactions
    )


def message_status_times(message: Message) -> str:
    times = [
        (label, at)
        for label, at in [
            ("sent", message.sent_at),
            ("delivered", message.delivered_at),
            ("read", message.read_at),
            ("failed", message.failed_at),
        ]
        if at is not None
    ]
    lines = format_html_join(
        "", "<br>{} {}", ((label, timezone.localtime(at).strftime(TIME)) for label, at in times)
    )
    return format_html("<strong>{}</strong>{}", message.status, lines)


def message_error(message: Message) -> str:
    if not message.error_code and not message.error_title:
        return "—"
    return format_html(
        "<strong>{}</strong> {}", message.error_code, Truncator(message.error_title).chars(120)
    )


@admin.register(Message)
class MessageAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    """History: viewed, never edited here (statuses come from the provider)."""

    member_roles = {"view": Role.VIEWER}

    list_display = [
        "occurred_at",
        "direction",
        "type",
        "short_text",
        "status",
        "error",
        "channel",
        "conversation",
    ]
    list_filter = ["status", "direction", ErrorFilter, "error_code", "type", "channel__provider"]
    search_fields = ["text"]  # shows the search box; get_search_results searches
    search_help_text = (
        "Words of the text (also of a location, contact or order; accents and case "
        "ignored), or a whole provider message id or error code."
    )
    list_select_related = ["channel", "conversation__contact", "conversation__channel"]
    date_hierarchy = "occurred_at"
    ordering = list(MESSAGE_ORDER)
    readonly_fields = ["reactions", "edit_history", "failures"]

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        organization_ids = (
            None if request.user.is_superuser else organizations_allowing(request, Role.VIEWER)
        )
        condition = message_search_condition(search=search_term, organization_ids=organization_ids)
        return queryset.filter(condition), False

    @admin.display(description="Error", ordering="error_code")
    def error(self, obj: Message) -> str:
        return message_error(obj)

    @admin.display(description="Text")
    def short_text(self, obj: Message) -> str:
        return message_text(obj, length=60)

    @admin.display(description="Reactions (current, one per reactor)")
    def reactions(self, obj: Message) -> str:
        return reactions_line(message_reactions(messages=[obj]).get(obj.pk, []))

    @admin.display(description="Edit history (earlier texts, oldest first)")
    def edit_history(self, obj: Message) -> str:
        earlier = obj.revisions[:-1]
        if not earlier:
            return "—"
        return format_html_join("", "<div>{}: {}</div>", ((r["at"], r["text"]) for r in earlier))

    @admin.display(description="Failures reported")
    def failures(self, obj: Message) -> str:
        if not obj.error_history:
            return "—"
        rows = ((f["at"], f["code"] or "—", f["title"]) for f in obj.error_history)
        return format_html_join("", "<div>{}: <strong>{}</strong> {}</div>", rows)


@admin.register(MessageReaction)
class MessageReactionAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    """Reactions as they stand: one per reactor and message (an empty emoji: taken
    back). Shown on their message's page; listed here to find one that waits for a
    message not filed yet."""

    member_roles = {"view": Role.VIEWER}

    list_display = [
        "reacted_at",
        "shown_emoji",
        "direction",
        "reactor",
        "message_provider_id",
        "target_filed",
        "conversation",
    ]
    list_filter = ["direction", "channel__provider"]
    search_fields = ["message_provider_id", "reactor"]
    search_help_text = "The reacted message's provider id, or the reactor's id."
    list_select_related = ["conversation__contact", "conversation__channel"]
    ordering = ["-reacted_at", "-id"]

    @admin.display(description="Emoji", ordering="emoji")
    def shown_emoji(self, obj: MessageReaction) -> str:
        return obj.emoji or "(taken back)"

    def get_queryset(self, request):
        # One EXISTS per page, not a query per row.
        filed = Message.objects.filter(
            channel_id=OuterRef("channel_id"), provider_message_id=OuterRef("message_provider_id")
        )
        return super().get_queryset(request).annotate(target_is_filed=Exists(filed))

    @admin.display(description="Message filed", boolean=True, ordering="target_is_filed")
    def target_filed(self, obj: MessageReaction) -> bool:
        return obj.target_is_filed


@admin.register(PendingMessageChange)
class PendingMessageChangeAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    """Edits and revokes waiting for their message; applied when it is filed."""

    member_roles = {"view": Role.VIEWER}

    list_display = ["occurred_at", "kind", "provider_message_id", "channel", "created_at"]
    list_filter = ["kind", "channel"]
    search_fields = ["provider_message_id"]
    ordering = ["-occurred_at", "-id"]
