from django.urls import path

from casedesk.hours import views

app_name = "hours"

urlpatterns = [
    path("", views.hours_page, name="page"),
    path("<int:year>/", views.hours_page, name="year"),
    path("holidays.ics", views.holidays_ics, name="ics"),
]
