from django.urls import path

from casedesk.hours import views

app_name = "hours_api"

urlpatterns = [
    path("status", views.status_api, name="status"),
]
