"""/api/v1/: the REST API, its OpenAPI schema and its reference (served from our static files)."""

from django.urls import URLPattern, URLResolver, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from casedesk.api import resources, status, views
from casedesk.api.cases import CaseViewSet
from casedesk.api.phone import CallViewSet, FeeViewSet

app_name = "api"
urlpatterns: list[URLPattern | URLResolver] = [
    path("me/", views.Me.as_view(), name="me"),
    path("hours/", resources.Hours.as_view(), name="hours"),
    path("oncall/", resources.OnCall.as_view(), name="oncall"),
    path("oncall/pages/", resources.Pages.as_view(), name="pages"),
    path(
        "oncall/pages/<str:code>/acknowledge/",
        resources.Acknowledge.as_view(),
        name="acknowledge",
    ),
    path("organizations/", resources.Organizations.as_view(), name="organizations"),
    path("status/components/", status.ComponentList.as_view(), name="status_components"),
    path("status/incidents/", status.Incidents.as_view(), name="status_incidents"),
    path("status/maintenance/", status.Maintenance.as_view(), name="status_maintenance"),
    path("status/<str:public_id>/", status.IncidentDetail.as_view(), name="status_incident"),
    path("status/<str:public_id>/updates/", status.Updates.as_view(), name="status_updates"),
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
router.register("calls", CallViewSet, basename="call")
router.register("fees", FeeViewSet, basename="fee")
urlpatterns += router.urls

# Last: anything else under /api/v1/ is a 404 problem document.
urlpatterns.append(re_path(r"^.*$", views.NotFound.as_view(), name="not_found"))
