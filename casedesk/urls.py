from django.contrib import admin
from django.urls import include, path

from casedesk.core import views as core_views

urlpatterns = [
    path("", core_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    path("hours/", include("casedesk.hours.urls")),
    path("api/hours/", include("casedesk.hours.api_urls")),
    path("admin/", admin.site.urls),
]
