"""The campaign reports' routes, under /api/v1/reports/ (a trailing slash optional, as
elsewhere in the API)."""

from django.urls import re_path

from reports.api import campaign_views as views
from tenants.ids import ID_PATTERN

urlpatterns = [
    re_path(r"^campaigns/?$", views.CampaignFunnelView.as_view(), name="report-campaigns"),
    re_path(r"^campaigns/days/?$", views.CampaignDaysView.as_view(), name="report-campaign-days"),
    re_path(
        rf"^campaigns/(?P<campaign_id>{ID_PATTERN})/steps/?$",
        views.CampaignStepsView.as_view(),
        name="report-campaign-steps",
    ),
    re_path(r"^usage/?$", views.ChannelUsageView.as_view(), name="report-channel-usage"),
]
