from integrations.api.views import DeliveryViewSet, SubscriptionViewSet
from tenants.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("subscriptions", SubscriptionViewSet, basename="subscription")
router.register("deliveries", DeliveryViewSet, basename="delivery")

urlpatterns = router.urls
