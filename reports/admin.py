"""The reports app's admin pages, one module per subject; imported here so the admin
finds them."""

from reports import alert_admin  # noqa: F401
