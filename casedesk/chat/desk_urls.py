from django.urls import path

from casedesk.chat import desk_views

app_name = "chat_desk"
urlpatterns = [
    path("", desk_views.console, name="console"),
    path("heartbeat", desk_views.heartbeat, name="heartbeat"),
    path("<int:pk>/accept", desk_views.act, {"action": "accept"}, name="accept"),
    path("<int:pk>/transfer", desk_views.act, {"action": "transfer"}, name="transfer"),
    path("<int:pk>/end", desk_views.act, {"action": "end"}, name="end"),
    path("<int:pk>/case", desk_views.to_case, name="case"),
]
