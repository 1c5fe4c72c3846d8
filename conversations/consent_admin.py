"""Consent in the admin: on the contact's page (its state per kind and scope, and the
history), lists of who opted out, and each organization's keywords and replies.

Consent is changed only through `consent_set` (source admin, who = the person), never
by a form writing the row: the history must record every change. Only the contact
organization's admins may change it; agents and viewers read it.
"""

from django.contrib import admin, messages

from conversations.consent import consent_set
from conversations.consent_models import (
    AutoReply,
    Consent,
    ConsentChange,
    ConsentKeyword,
    ConsentSource,
    KeywordReplyTexts,
)
from conversations.keywords import normalized
from tenants.admin_scope import OrganizationScopedAdmin, member_roles, organization_id_of
from tenants.admin_ui import HistoryAdminMixin
from tenants.models import Role

CONSENT_ROLES = {"view": Role.VIEWER, "add": Role.ADMIN, "change": Role.ADMIN}


def _is_admin_of(request, obj) -> bool:
    if request.user.is_superuser:
        return True
    if obj is None:
        return False
    role = member_roles(request).get(organization_id_of(obj))
    return role is not None and role.allows(Role.ADMIN)


def consent_formset_save(request, contact, formset) -> int:
    """Apply the consent rows of the contact page's form through the service."""
    changed = 0
    for form in formset.forms:
        if not form.has_changed() or not form.cleaned_data:
            continue
        data = form.cleaned_data
        consent_set(
            contact=contact,
            kind=data["kind"],
            scope=data["scope"],
            state=data["state"],
            source=ConsentSource.ADMIN,
            changed_by=request.user,
        )
        changed += 1
    return changed


class ConsentInline(admin.TabularInline):
    """Each (kind, scope) set so far. Admins change a state or add a row: the change is
    recorded with them as its author. A missing row is `unknown`."""

    model = Consent
    fields = ["kind", "scope", "state", "source", "changed_at"]
    readonly_fields = ["source", "changed_at"]
    extra = 0
    can_delete = False
    verbose_name_plural = "consent (missing: unknown)"

    def has_add_permission(self, request, obj=None) -> bool:
        return _is_admin_of(request, obj)

    def has_change_permission(self, request, obj=None) -> bool:
        return _is_admin_of(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ConsentChangeInline(admin.TabularInline):
    model = ConsentChange
    fields = ["changed_at", "kind", "scope", "previous_state", "state", "source"]
    fields += ["changed_by", "label", "message"]
    readonly_fields = fields
    ordering = ["-changed_at", "-id"]
    extra = 0
    can_delete = False
    verbose_name_plural = "consent history"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("changed_by")


@admin.register(Consent)
class ConsentAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """Who opted out of what, across contacts: read here, changed on a contact's page."""

    member_roles = CONSENT_ROLES
    list_display = ["contact", "kind", "scope", "state", "source", "changed_at"]
    list_filter = ["state", "kind", "scope", "source", "organization"]
    search_fields = ["contact__name", "contact__phone"]
    list_select_related = ["contact"]
    fields = ["organization", "contact", "kind", "scope", "state", "source", "changed_at"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # changed on the contact's page, through the service

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ConsentChange)
class ConsentChangeAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    member_roles = {"view": Role.VIEWER}
    list_display = ["changed_at", "contact", "kind", "scope", "previous_state", "state"]
    list_display += ["source", "changed_by", "label"]
    list_filter = ["source", "state", "kind", "organization"]
    search_fields = ["contact__name", "contact__phone", "label"]
    list_select_related = ["contact", "changed_by"]


@admin.register(ConsentKeyword)
class ConsentKeywordAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """An organization's own keywords, on top of STOP, START, HELP and the others."""

    member_roles = {"view": Role.VIEWER, "add": Role.ADMIN, "change": Role.ADMIN}
    member_roles |= {"delete": Role.ADMIN}
    list_display = ["keyword", "keyword_class", "language", "organization", "reply_text"]
    list_filter = ["keyword_class", "language", "organization"]
    search_fields = ["keyword", "reply_text"]
    fields = ["organization", "keyword", "keyword_class", "language", "reply_text"]

    def save_model(self, request, obj, form, change):
        obj.keyword = normalized(obj.keyword)  # compared in this form
        super().save_model(request, obj, form, change)


@admin.register(KeywordReplyTexts)
class KeywordReplyTextsAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """What opt-out, opt-in and help keywords are answered with; an empty text sends
    no reply for that class. Channels switch keyword replies on or off themselves."""

    member_roles = {"view": Role.VIEWER, "add": Role.ADMIN, "change": Role.ADMIN}
    list_display = ["organization", "updated_at"]
    fields = ["organization", "opt_out", "opt_in", "help"]


@admin.register(AutoReply)
class AutoReplyAdmin(HistoryAdminMixin, OrganizationScopedAdmin, admin.ModelAdmin):
    member_roles = {"view": Role.VIEWER}
    list_display = ["created_at", "channel", "keyword_class", "state", "attempts", "last_error"]
    list_filter = ["state", "keyword_class", "organization"]
    list_select_related = ["channel"]
    fields = ["organization", "channel", "conversation", "keyword_message", "keyword_class"]
    fields += ["text", "state", "reply_message", "attempts", "next_attempt_at", "last_error"]
    raw_id_fields = ["conversation", "keyword_message", "reply_message"]


def report_consent_saved(model_admin, request, count: int) -> None:
    if count:
        model_admin.message_user(request, f"{count} consent change(s) applied.", messages.SUCCESS)
