from django.contrib import admin
from django.utils import timezone
from django.utils.timesince import timeuntil

from conversations.models import Contact, ContactIdentity, Conversation, Message
from conversations.window import window_is_open


class ContactIdentityInline(admin.TabularInline):
    model = ContactIdentity
    extra = 0
    fields = ["channel", "kind", "value"]
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["__str__", "phone", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "phone", "identities__value"]
    list_select_related = ["organization"]
    inlines = [ContactIdentityInline]


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    ordering = ["-created_at"]
    fields = [
        "created_at",
        "direction",
        "type",
        "text",
        "status",
        "error_code",
        "provider_message_id",
    ]
    readonly_fields = fields
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = [
        "contact",
        "channel",
        "status",
        "assignee",
        "unread_count",
        "last_message_at",
        "window",
    ]
    list_filter = ["status", "channel__provider", "is_window_open", "organization"]
    search_fields = ["contact__name", "contact__phone", "contact__identities__value"]
    list_select_related = ["contact", "channel", "assignee"]
    readonly_fields = [
        "organization",
        "channel",
        "contact",
        "unread_count",
        "last_message_at",
        "last_message_preview",
        "last_user_message_at",
        "window_expires_at",
        "is_window_open",
        "last_template_message_at",
        "window_status_last_checked_at",
        "provider_conversation_ref",
    ]
    inlines = [MessageInline]

    @admin.display(description="24-hour window")
    def window(self, obj: Conversation) -> str:
        if obj.channel.window_policy == "always_open":
            return "always open"
        if not window_is_open(obj):
            return "closed" if obj.window_expires_at else "never opened"
        return f"open, {timeuntil(obj.window_expires_at, timezone.now())} left"


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "direction",
        "type",
        "status",
        "error_code",
        "channel",
        "conversation",
    ]
    list_filter = ["direction", "status", "type", "channel__provider"]
    search_fields = ["provider_message_id", "text", "error_code"]
    list_select_related = ["channel", "conversation__contact"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in Message._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False
