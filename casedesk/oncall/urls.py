"""What paged people and Twilio reach without logging in (under /oncall/)."""

from django.urls import path

from casedesk.oncall import views

app_name = "oncall"
urlpatterns = [
    path("ack/<str:token>/", views.ack, name="ack"),
    path("voice/<str:token>/", views.voice, name="voice"),
    path("voice/<str:token>/ack/", views.voice_ack, name="voice_ack"),
    path("sms", views.sms, name="sms"),
    path("feeds/schedule/<str:token>.ics", views.schedule_feed, name="schedule_feed"),
    path("feeds/person/<str:token>.ics", views.person_feed, name="person_feed"),
]
