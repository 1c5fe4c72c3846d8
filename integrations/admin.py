"""Integrations in the admin; each part registers its pages in its own module,
imported here."""

from integrations import notifications_admin  # noqa: F401 - registers its admin
