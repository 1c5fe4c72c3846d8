from reconciliation.api.views import ReconciliationRunViewSet
from tenants.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("reconciliation-runs", ReconciliationRunViewSet, basename="reconciliation-run")

urlpatterns = router.urls
