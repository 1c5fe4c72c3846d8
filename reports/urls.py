"""Public pages of the reports app (no login): the digest's unsubscribe link."""

from django.urls import path

from reports.digest_views import digest_unsubscribe_view

app_name = "reports"
urlpatterns = [
    path(
        "digest/unsubscribe/<str:token>/",
        digest_unsubscribe_view,
        name="digest_unsubscribe",
    ),
]
