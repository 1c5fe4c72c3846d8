from django.urls import path, re_path

from integrations.api.notifications import MyNotificationsView
from integrations.api.views import DeliveryViewSet, SubscriptionViewSet
from integrations.stream_view import stream_view
from tenants.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    path("stream", stream_view, name="stream"),
    re_path(r"^me/notifications/?$", MyNotificationsView.as_view(), name="my-notifications"),
    *router.urls,
]
