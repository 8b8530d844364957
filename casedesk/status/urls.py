from django.urls import path, re_path

from casedesk.status import views

app_name = "status"
urlpatterns = [
    path("", views.status_page, name="page"),
    path("incidents/<slug:public_id>/", views.incident_page, name="incident"),
    path("maintenance/<slug:public_id>/", views.maintenance_page, name="maintenance"),
    path("history/", views.history, name="history"),
    path("history.atom", views.history_feed, {"kind": "atom"}, name="atom"),
    path("history.rss", views.history_feed, {"kind": "rss"}, name="rss"),
    path("maintenance.ics", views.maintenance_ics, name="ics"),
    re_path(r"^api/v2/(?P<name>[a-z/-]+)\.json$", views.api_document, name="api"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("subscribe/confirm/<str:token>/", views.confirm, name="confirm"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
