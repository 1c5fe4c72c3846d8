from django.urls import re_path

from integrations.api.notifications import MyNotificationsView

urlpatterns: list = [
    re_path(r"^me/notifications/?$", MyNotificationsView.as_view(), name="my-notifications"),
]
