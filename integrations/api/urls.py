from django.urls import re_path

from integrations.api.notifications import MyNotificationsView
from integrations.api.views import DeliveryViewSet, SubscriptionViewSet
from tenants.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = [
    re_path(r"^me/notifications/?$", MyNotificationsView.as_view(), name="my-notifications"),
    *router.urls,
]
