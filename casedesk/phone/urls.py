"""Twilio's webhooks for the emergency line (under /phone/; paths fixed in ``flow``)."""

from django.urls import path

from casedesk.oncall import views as oncall_views
from casedesk.phone import views

app_name = "phone"
urlpatterns = [
    path("voice", views.voice, name="voice"),
    path("voice/menu", views.menu, name="menu"),
    path("voice/account", views.account, name="account"),
    path("voice/dialed", views.dialed, name="dialed"),
    path("voice/whisper", views.whisper, name="whisper"),
    path("voice/accept", views.accept, name="accept"),
    path("voice/recorded", views.recorded, name="recorded"),
    path("voice/recording", views.recording, name="recording"),
    path("voice/status", views.call_status, name="status"),
    path("voice/leg", views.leg_status, name="leg_status"),
    # On-call acknowledgements by SMS ("1", "ACK"): the paging issue's own signed handler.
    path("sms", oncall_views.sms, name="sms"),
]
