"""Integrations in the admin; each part registers its pages in its own module,
imported here."""

from integrations import (  # noqa: F401 - each registers its pages
    admin_bots,
    admin_subscriptions,
    notifications_admin,
)
