from django.urls import path

from casedesk.status import desk_views

app_name = "status_desk"
urlpatterns = [
    path("", desk_views.incident_list, name="list"),
    path("incidents/new/", desk_views.new_incident, name="new_incident"),
    path("maintenance/new/", desk_views.new_maintenance, name="new_maintenance"),
    path("link-case/", desk_views.link_case, name="link_case"),
    path("<slug:public_id>/", desk_views.incident_page, name="incident"),
    path("<slug:public_id>/update/", desk_views.post_update, name="update"),
    path("<slug:public_id>/reschedule/", desk_views.reschedule, name="reschedule"),
]
