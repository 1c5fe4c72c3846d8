"""The reports app in the admin (the Reports page itself: reports.admin_page)."""

from reports import digest_admin  # noqa: F401
