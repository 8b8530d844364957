from django.urls import path

from casedesk.cases import desk_views

app_name = "desk"
urlpatterns = [
    path("", desk_views.queue, name="queue"),
    path("cases/<str:reference>/", desk_views.case_page, name="case"),
    # Actions on a case: POST only, each redirects back to the case page.
    path("cases/<str:reference>/reply/", desk_views.reply, name="reply"),
    path("cases/<str:reference>/status/", desk_views.change_status, name="status"),
    path("cases/<str:reference>/priority/", desk_views.change_priority, name="priority"),
    path("cases/<str:reference>/downgrade/", desk_views.downgrade, name="downgrade"),
    path("cases/<str:reference>/assign/", desk_views.assign, name="assign"),
]
