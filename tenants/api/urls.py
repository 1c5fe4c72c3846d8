from django.urls import re_path

from tenants.api.routers import OptionalSlashRouter
from tenants.api.views import ChannelViewSet, MeView

router = OptionalSlashRouter()
router.register("channels", ChannelViewSet, basename="channel")

urlpatterns = [re_path(r"^me/?$", MeView.as_view(), name="me"), *router.urls]
