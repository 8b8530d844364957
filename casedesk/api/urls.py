"""/api/v1/: the REST API, its OpenAPI schema and its reference (served from our static files)."""

from django.urls import URLPattern, URLResolver, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from casedesk.api import views
from casedesk.api.cases import CaseViewSet

app_name = "api"
urlpatterns: list[URLPattern | URLResolver] = [
    path("me/", views.Me.as_view(), name="me"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI with its start-up script as a file of its own (no inline script: the
    # site's Content-Security-Policy holds on this page too), and its page rules as a file.
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api:schema", template_name="api/reference.html"
        ),
        name="docs",
    ),
]

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("cases", CaseViewSet, basename="case")
urlpatterns += router.urls
