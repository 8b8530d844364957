"""The desk's emergency-line pages (under /desk/phone/, staff only)."""

from django.urls import path

from casedesk.phone import desk_views

app_name = "phone_desk"
urlpatterns = [
    path("", desk_views.call_log, name="calls"),
    path("calls/<int:pk>/", desk_views.call_page, name="call"),
    # Triage: POST only, each redirects back to the call.
    path("calls/<int:pk>/non-emergency/", desk_views.mark, name="mark"),
    path("calls/<int:pk>/void/", desk_views.void, name="void"),
    path("fees/", desk_views.fee_report_page, name="fees"),
]
