"""The reports app's admin pages, one module per subject; imported here so the admin
finds them (the Reports page itself: reports.admin_page)."""

from reports import alert_admin, digest_admin  # noqa: F401
