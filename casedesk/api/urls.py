"""/api/v1/: the REST API, its OpenAPI schema and its reference (served from our static files)."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from casedesk.api import views

app_name = "api"
urlpatterns = [
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
