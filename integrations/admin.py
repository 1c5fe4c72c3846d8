"""Integrations in the admin; each part registers its pages in its own module,
imported here."""

import integrations.admin_subscriptions  # noqa: F401 - registers its pages
from integrations import notifications_admin  # noqa: F401 - registers its admin
from integrations import admin_bots  # noqa: F401 - registers its admin
