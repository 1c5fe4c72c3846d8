"""The support staff's admin for contacts, conversations and messages.

Conversations and messages are read-only pages: status changes go through actions that
call the services (row lock, snooze rules), because a form save writes the whole row
and would overwrite what a webhook changed in between. The window is always shown from
`window_status` (the clock), never from the stored `is_window_open` copy.
"""

from datetime import datetime

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from conversations.admin_erasure import ContactErasureActionMixin
from conversations.admin_list import ConversationListColumns
from conversations.admin_thread import ConversationWorkspace, span
from conversations.bots import bot_handling_annotation
from conversations.consent_admin import (
    ConsentChangeInline,
    ConsentInline,
    consent_formset_save,
    report_consent_saved,
)
from conversations.maintenance import windows_backfill
from conversations.models import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationNote,
    ConversationStatus,
)
from conversations.selectors import conversation_search_condition
from conversations.services import conversation_status_set
from conversations.window import WindowState, window_conditions, window_status
from providers.phones import InvalidPhoneNumberError, valid_e164
from tenants.admin_scope import OrganizationScopedAdmin, organizations_allowing
from tenants.admin_ui import AMBER, GREEN, GREY, HistoryAdminMixin, UncountedChangeList, badge
from tenants.models import Role, WindowPolicy


def windowbadge(conversation: Conversation, now: datetime | None = None) -> str:
    """The window as support staff read it; needs the channel loaded (no query)."""
    now = now or timezone.now()
    status = window_status(conversation, now=now)
    if status.policy == WindowPolicy.ALWAYS_OPEN:
        return badge(GREEN, "always open")
    if status.state == WindowState.NONE:
        return badge(GREY, "never opened")
    if status.state == WindowState.EXPIRED:
        ago = int((now - status.expires_at).total_seconds())
        return badge(GREY, f"expired {span(ago)} ago")
    colour = AMBER if status.seconds_remaining < 3600 else GREEN
    return badge(colour, f"open · {span(status.seconds_remaining)} left")


class WindowFilter(admin.SimpleListFilter):
    """From `window_expires_at` and the clock, like `window_status`; the stored flag
    may lag the clock until the close-expired task runs."""

    title = "24-hour window"
    parameter_name = "window"

    def lookups(self, request, model_admin):
        return [
            ("open", "Open"),
            ("expiring", "Expiring within the hour"),
            ("expired", "Expired"),
            ("never", "Never opened"),
        ]

    def queryset(self, request, queryset: QuerySet) -> QuerySet:
        rules = window_conditions(timezone.now())
        if self.value() not in rules:
            return queryset
        return queryset.filter(rules[self.value()])


class AssigneeFilter(admin.RelatedOnlyFieldListFilter):
    """Only people who hold conversations, plus "Unassigned" (the empty choice)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.empty_value_display = "Unassigned"


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ContactIdentityInline(ReadOnlyInline):
    model = ContactIdentity
    fields = ["channel", "kind", "value"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel")


class ContactConversationInline(ReadOnlyInline):
    model = Conversation
    fk_name = "contact"
    fields = ["channel", "status", "assignee", "last_activity_at", "window"]
    readonly_fields = fields
    ordering = ["-last_activity_at"]
    show_change_link = True
    verbose_name_plural = "conversations"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("channel", "assignee")

    @admin.display(description="24-hour window")
    def window(self, obj: Conversation) -> str:
        return windowbadge(obj)


class ContactForm(forms.ModelForm):
    """A number typed by staff must be one someone can have: valid in its region, not
    only well-formed (numbers that customers' messages came from are filed as they
    are, by the inbound pipeline, never through this form)."""

    class Meta:
        model = Contact
        fields = ["organization", "name", "phone"]

    def clean_phone(self) -> str:
        phone = self.cleaned_data.get("phone", "").strip()
        if not phone or phone == self.initial.get("phone"):
            return phone  # unchanged: a number filed from a provider stays as it came
        try:
            return valid_e164(phone, default_region=settings.DEFAULT_PHONE_REGION)
        except InvalidPhoneNumberError as exc:
            raise forms.ValidationError(str(exc), code="invalid_phone") from exc


@admin.register(Contact)
class ContactAdmin(ContactErasureActionMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    member_roles = {"view": Role.VIEWER, "change": Role.AGENT}
    form = ContactForm
    actions = ["erase_contacts"]
    list_display = ["display_name", "phone", "organization", "conversation_count", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name", "phone", "identities__value"]
    search_help_text = "Name, phone, or a provider id (wa_id, user id...)."
    list_select_related = ["organization"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [ConsentInline, ConsentChangeInline, ContactIdentityInline, ContactConversationInline]

    def save_formset(self, request, form, formset, change):
        if formset.model is not ConsentInline.model:
            return super().save_formset(request, form, formset, change)
        # Not formset.save(): every change goes through the service, into the history
        # (the admin's own change message then lists no consent rows).
        formset.new_objects, formset.changed_objects, formset.deleted_objects = [], [], []
        report_consent_saved(self, request, consent_formset_save(request, form.instance, formset))

    def get_readonly_fields(self, request, obj=None):
        # Moving a contact to another organization would strand its conversations.
        return [*self.readonly_fields, "organization"] if obj else self.readonly_fields

    def get_queryset(self, request):
        # A subquery, not Count over a join: searching identities joins them, and a
        # contact with two matching identities would count its conversations twice.
        conversations = (
            Conversation.objects.filter(contact=OuterRef("pk"))
            .order_by()
            .values("contact")
            .annotate(count=Count("pk"))
            .values("count")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(conversation_count=Coalesce(Subquery(conversations), 0))
        )

    @admin.display(description="Name", ordering="name")
    def display_name(self, obj: Contact) -> str:
        return str(obj)

    @admin.display(description="Conversations", ordering="conversation_count")
    def conversation_count(self, obj: Contact) -> int:
        return obj.conversation_count


@admin.register(Conversation)
class ConversationAdmin(
    ConversationWorkspace, OrganizationScopedAdmin, ConversationListColumns, admin.ModelAdmin
):
    member_roles = {"view": Role.VIEWER, "change": Role.AGENT}
    list_filter = [
        WindowFilter,
        "status",
        "channel",
        ("assignee", AssigneeFilter),
        "organization",
    ]
    search_fields = ["contact__name"]  # shows the search box; get_search_results searches
    search_help_text = (
        "Contact name, phone, a provider id (wa_id, user id...), or words of a message "
        "(accents and case ignored; the last word may be the start of one)."
    )
    list_select_related = ["contact", "channel", "assignee"]
    ordering = ["-last_activity_at", "-id"]
    show_full_result_count = False  # an unfiltered count(*) of a large table per page

    def get_changelist(self, request, **kwargs):
        return UncountedChangeList

    def get_search_results(self, request, queryset, search_term):
        """The inbox's search (conversation_search_condition), over the organizations
        the person may see (the queryset is scoped to them as well)."""
        if not search_term.strip():
            return queryset, False
        organization_ids = (
            None if request.user.is_superuser else organizations_allowing(request, Role.VIEWER)
        )
        condition = conversation_search_condition(
            search=search_term, organization_ids=organization_ids
        )
        return queryset.filter(condition), False

    actions = ["close", "reopen", "recompute_window"]
    fieldsets = [
        (
            "Conversation",
            {
                "fields": [
                    "organization",
                    "channel",
                    "contact",
                    "status",
                    "snoozed_until",
                    "assignee",
                    "unread_count",
                    "last_activity_at",
                    "last_message_at",
                    "last_message_preview",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        (
            "24-hour window",
            {
                "fields": [
                    "window",
                    "window_policy",
                    "last_user_message_at",
                    "last_template_message_at",
                    "window_expires_at",
                    "is_window_open",
                    "window_status_last_checked_at",
                ]
            },
        ),
        ("Provider", {"fields": ["provider", "provider_conversation_ref"]}),
    ]
    readonly_fields = [field for _, options in fieldsets for field in options["fields"]]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        # The list (and its actions) may change; a single conversation's page is a view.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # history: deleting one deletes its messages

    @admin.display(description="24-hour window", ordering="window_expires_at")
    def window(self, obj: Conversation) -> str:
        return windowbadge(obj)

    @admin.display(description="Window policy")
    def window_policy(self, obj: Conversation) -> str:
        return obj.channel.get_window_policy_display()

    @admin.display(description="Provider")
    def provider(self, obj: Conversation) -> str:
        return obj.channel.get_provider_display()

    def get_queryset(self, request):
        # The page and its thread read the contact and channel: one query, not three.
        return (
            super()
            .get_queryset(request)
            .select_related("contact", "channel", "assignee")
            .annotate(bot_handling=bot_handling_annotation())
        )

    @admin.action(description="Close", permissions=["change"])
    def close(self, request, queryset) -> None:
        self._set_status(request, queryset, ConversationStatus.CLOSED, "Closed", "closed")

    @admin.action(description="Reopen", permissions=["change"])
    def reopen(self, request, queryset) -> None:
        self._set_status(request, queryset, ConversationStatus.OPEN, "Reopened", "open")

    def _set_status(self, request, queryset, status, done: str, already: str) -> None:
        to_change = list(queryset.exclude(status=status))
        for conversation in to_change:
            conversation_status_set(conversation=conversation, status=status)
        unchanged = queryset.count() - len(to_change)
        note = f"; {unchanged} already {already}" if unchanged else ""
        self.message_user(
            request, f"{done} {len(to_change)} conversation(s){note}.", messages.SUCCESS
        )

    @admin.action(description="Recompute window from messages", permissions=["change"])
    def recompute_window(self, request, queryset) -> None:
        progress = windows_backfill(conversation_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            f"Recomputed the window of {progress.conversations} conversation(s) from their "
            f"messages; {progress.open_windows} open now.",
            messages.SUCCESS,
        )


@admin.register(ConversationNote)
class ConversationNoteAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    """The team's internal notes, all conversations: written on the conversation's
    page, never edited (a record of what the team said to itself)."""

    member_roles = {"view": Role.VIEWER}
    list_display = ["created_at", "conversation", "author", "short_text"]
    list_select_related = ["conversation__contact", "conversation__channel", "author"]
    search_fields = ["text"]
    ordering = ["-created_at", "-id"]

    @admin.display(description="Text")
    def short_text(self, obj: ConversationNote) -> str:
        return obj.text[:120]
