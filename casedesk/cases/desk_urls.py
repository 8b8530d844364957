from django.urls import path

from casedesk.cases import desk_views

app_name = "desk"
urlpatterns = [
    path("", desk_views.queue, name="queue"),
    path("cases/<str:reference>/", desk_views.case_page, name="case"),
]
