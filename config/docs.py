"""The API's schema and Swagger UI: for signed-in people unless API_DOCS_PUBLIC.

The schema names every endpoint and error code but no tenant's data; still, a
self-hosted operations backend need not describe itself to the whole internet. A
browser that is not signed in is sent to the admin's sign-in and back to the docs;
the schema answers 401 to a call without a session or token. Set API_DOCS_PUBLIC=1
for a public developer portal."""

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.urls import reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import BasePermission


class DocsReaders(BasePermission):
    def has_permission(self, request, view) -> bool:
        return settings.API_DOCS_PUBLIC or bool(request.user and request.user.is_authenticated)


schema_view = SpectacularAPIView.as_view(permission_classes=[DocsReaders])
_swagger = SpectacularSwaggerView.as_view(url_name="schema", permission_classes=[DocsReaders])


def docs_view(request, *args, **kwargs):
    if settings.API_DOCS_PUBLIC or request.user.is_authenticated:
        return _swagger(request, *args, **kwargs)
    return redirect_to_login(request.get_full_path(), reverse("admin:login"))
