from campaigns.api.views import CampaignViewSet, EnrollmentViewSet, StepViewSet
from tenants.api.routers import OptionalSlashRouter
from tenants.ids import ID_PATTERN

router = OptionalSlashRouter()
router.register("campaigns", CampaignViewSet, basename="campaign")
router.register(
    rf"campaigns/(?P<campaign_id>{ID_PATTERN})/steps", StepViewSet, basename="campaign-step"
)
router.register(
    rf"campaigns/(?P<campaign_id>{ID_PATTERN})/enrollments",
    EnrollmentViewSet,
    basename="campaign-enrollment",
)

urlpatterns = router.urls
