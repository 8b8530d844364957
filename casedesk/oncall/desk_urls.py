"""The desk's on-call pages (under /desk/oncall/, staff only)."""

from django.urls import path

from casedesk.oncall import desk_views

app_name = "oncall_desk"
urlpatterns = [
    path("", desk_views.board, name="board"),
    path("pages/<str:code>/acknowledge/", desk_views.acknowledge, name="acknowledge"),
    path("feed/", desk_views.make_feed, name="make_feed"),
    path("schedules/<int:pk>/", desk_views.calendar, name="calendar"),
    path("schedules/<int:pk>/feed/", desk_views.renew_schedule_feed, name="renew_schedule_feed"),
    path("report/", desk_views.report_page, name="report"),
]
