from django.contrib import admin
from django.urls import include, path

from config.docs import docs_view, schema_view
from config.health import healthz, readyz
from reports.metrics import metrics_view

api_v1 = [
    path("", include("tenants.api.urls")),
    # Before conversations: it adds sending to the conversation's messages route.
    path("", include("messaging.api.urls")),
    path("", include("conversations.api.urls")),
    path("", include("templates.api.urls")),
    path("", include("campaigns.api.urls")),
    path("", include("reconciliation.api.urls")),
    path("", include("integrations.api.urls")),
    path("reports/", include("reports.api.urls")),
    path("schema/", schema_view, name="schema"),
    path("docs/", docs_view, name="docs"),
]

urlpatterns = [
    path("webhooks/", include("webhooks.urls")),  # first: the most requested, by far
    path("admin/", admin.site.urls),
    path("reports/", include("reports.urls")),  # the digest's unsubscribe link
    path("api/v1/", include(api_v1)),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("metrics", metrics_view, name="metrics"),
]
