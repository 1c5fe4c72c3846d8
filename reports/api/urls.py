"""Routes under /api/v1/reports/ (with or without a trailing slash, as the others)."""

from django.urls import include, path, re_path

from reports.api import inbox

urlpatterns: list = [
    re_path(r"^inbox/days/?$", inbox.InboxDaysView.as_view(), name="report-inbox-days"),
    re_path(r"^inbox/summary/?$", inbox.InboxSummaryView.as_view(), name="report-inbox-summary"),
    re_path(r"^inbox/agents/?$", inbox.InboxAgentsView.as_view(), name="report-inbox-agents"),
    re_path(r"^inbox/channels/?$", inbox.InboxChannelsView.as_view(), name="report-inbox-channels"),
    path("", include("reports.api.campaign_urls")),
]
