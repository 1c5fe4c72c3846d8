from django.contrib.admin.apps import AdminConfig


class SwitchboardAdminConfig(AdminConfig):
    """django.contrib.admin with our site as the default `admin.site`, so every app's
    `admin.site.register` / `@admin.register` lands on it unchanged."""

    default_site = "config.admin.SwitchboardAdminSite"
