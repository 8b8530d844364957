"""The desk's organization pages (under /desk/organizations/, staff only)."""

from django.urls import path

from casedesk.accounts import desk_views

app_name = "accounts_desk"
urlpatterns = [
    path("", desk_views.organizations, name="organizations"),
    path("<int:pk>/", desk_views.organization, name="organization"),
]
