from django.urls import re_path
from rest_framework.routers import SimpleRouter

from tenants.api.views import ChannelViewSet, MeView

router = SimpleRouter(trailing_slash="/?")
router.register("channels", ChannelViewSet, basename="channel")

urlpatterns = [re_path(r"^me/?$", MeView.as_view(), name="me"), *router.urls]
