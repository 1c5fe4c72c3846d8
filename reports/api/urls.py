"""Routes under /api/v1/reports/."""

from django.urls import include, path

urlpatterns: list = [
    path("", include("reports.api.campaign_urls")),
]
