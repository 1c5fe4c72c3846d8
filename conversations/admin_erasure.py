"""Erasure in the admin: the "Erase (forget)" action on contacts, for organization
admins, behind a confirmation page; and the read-only list of erasure records."""

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.template.response import TemplateResponse

from conversations.erasure import contact_erase
from conversations.models import Contact, ContactErasure, ErasureSource
from tenants.admin_scope import OrganizationScopedAdmin, organizations_allowing, scope
from tenants.models import Role


class ContactErasureActionMixin:
    """Mixed into ContactAdmin: the erase action and who may run it."""

    def has_erase_permission(self, request) -> bool:
        return request.user.is_superuser or bool(organizations_allowing(request, Role.ADMIN))

    @admin.action(description="Erase (forget) selected contacts", permissions=["erase"])
    def erase_contacts(self, request, queryset: QuerySet[Contact]):
        # The action's queryset is scoped to where the person may change (agents);
        # erasing needs the admin role in the contact's organization.
        contacts = list(scope(queryset, request, Role.ADMIN).select_related("organization"))
        if not contacts:
            self.message_user(
                request, "Only an organization's admins erase its contacts.", messages.ERROR
            )
            return None
        if request.POST.get("confirmed") != "yes":
            return self._erase_confirmation(request, contacts)
        erased = [
            contact_erase(
                organization=contact.organization,
                contact_id=contact.pk,
                requested_by=request.user,
                source=ErasureSource.ADMIN,
            )
            for contact in contacts
        ]
        messages_count = sum(erasure.counts.get("messages", 0) for erasure in erased)
        webhooks_count = sum(erasure.counts.get("webhook_bodies", 0) for erasure in erased)
        self.message_user(
            request,
            f"Erased {len(erased)} contact(s): {messages_count} message(s) blanked, "
            f"{webhooks_count} raw webhook(s) redacted. Audit: erasure "
            + ", ".join(f"#{erasure.pk}" for erasure in erased)
            + ".",
            messages.SUCCESS,
        )
        return None

    def _erase_confirmation(self, request, contacts: list[Contact]):
        context = {
            **self.admin_site.each_context(request),
            "title": "Erase contacts? This cannot be undone.",
            "opts": self.model._meta,
            "contacts": contacts,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "action": "erase_contacts",
        }
        return TemplateResponse(
            request, "admin/conversations/contact/erase_confirmation.html", context
        )


@admin.register(ContactErasure)
class ContactErasureAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    """The record of erasures: read-only (an audit trail is not edited)."""

    member_roles = {"view": Role.ADMIN}
    list_display = [
        "__str__",
        "organization",
        "contact_id",
        "identifier_kind",
        "source",
        "requested_by",
        "requested_at",
        "completed_at",
    ]
    list_filter = ["organization", "source"]
    search_fields = ["identifier_hash"]
    search_help_text = "The identifier's hash (see conversations.erasure.identifier_hash)."
    exclude = ["pending_identifiers"]
    list_select_related = ["organization", "requested_by"]

    def has_add_permission(self, request, *args) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
