"""Integrations in the admin; each part registers its pages in its own module,
imported here."""
