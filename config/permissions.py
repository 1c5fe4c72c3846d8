"""Membership roles as admin permissions, so nobody hands out Django permissions one by
one: a staff member who is a viewer somewhere may view what our admins let viewers
view, an agent may also work conversations, an admin may also manage channels,
templates and settings. Each ModelAdmin says which role each permission needs
(`member_roles`, tenants.admin_scope); the admin then narrows every page to the
organizations where the person holds it. Models whose admin is not ours get nothing
from here: they are for superusers."""

from django.apps import apps
from django.contrib import admin
from django.contrib.auth.backends import BaseBackend

from tenants.admin_scope import OrganizationScopedAdmin, roles_of
from tenants.models import Role

CACHE_ATTRIBUTE = "_switchboard_roles"


class MembershipPermissions(BaseBackend):
    def has_perm(self, user_obj, perm, obj=None) -> bool:
        needed = self._needed_role(perm)
        if needed is None or not (user_obj.is_active and user_obj.is_staff):
            return False
        return any(role.allows(needed) for role in self._roles(user_obj).values())

    def has_module_perms(self, user_obj, app_label) -> bool:
        return any(
            self.has_perm(user_obj, f"{app_label}.view_{model._meta.model_name}")
            for model in admin.site._registry
            if model._meta.app_label == app_label
        )

    def _needed_role(self, perm: str) -> Role | None:
        app_label, _, codename = perm.partition(".")
        action, _, model_name = codename.partition("_")
        try:
            model = apps.get_model(app_label, model_name)
        except (LookupError, ValueError):
            return None
        model_admin = admin.site._registry.get(model)
        if not isinstance(model_admin, OrganizationScopedAdmin):
            return None
        return model_admin.member_roles.get(action)

    def _roles(self, user_obj) -> dict[int, Role]:
        # The user object lives for one request: memberships are read once per request.
        if not hasattr(user_obj, CACHE_ATTRIBUTE):
            setattr(user_obj, CACHE_ATTRIBUTE, roles_of(user_obj))
        return getattr(user_obj, CACHE_ATTRIBUTE)
