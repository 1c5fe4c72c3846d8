from django.contrib.admin.apps import AdminConfig


class SwitchboardAdminConfig(AdminConfig):
    """django.contrib.admin with our site as the default `admin.site`, so every app's
    `admin.site.register` / `@admin.register` lands on it unchanged."""

    default_site = "config.admin.SwitchboardAdminSite"

    def ready(self) -> None:
        super().ready()  # autodiscovers every app's admin.py
        _superusers_only_outside_our_apps()


def _superusers_only_outside_our_apps() -> None:
    """Admins of models that belong to no organization (schedules, task results, users,
    tokens) are the platform's: wrapped so that only superusers see them, whatever
    Django permissions someone was given."""
    from django.contrib import admin

    from tenants.admin_scope import OrganizationScopedAdmin, SuperuserOnlyAdmin

    for model, model_admin in list(admin.site._registry.items()):
        if isinstance(model_admin, OrganizationScopedAdmin | SuperuserOnlyAdmin):
            continue
        wrapped = type(type(model_admin).__name__, (SuperuserOnlyAdmin, type(model_admin)), {})
        admin.site.unregister(model)
        admin.site.register(model, wrapped)
