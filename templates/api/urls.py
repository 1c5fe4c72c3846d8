from templates.api.views import TemplateViewSet
from tenants.api.routers import OptionalSlashRouter

router = OptionalSlashRouter()
router.register("templates", TemplateViewSet, basename="template")

urlpatterns = router.urls
