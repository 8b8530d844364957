from django.urls import path

from casedesk.chat import desk_views
from casedesk.lib import ids  # noqa: F401  (registers <id:...>)

app_name = "chat_desk"
urlpatterns = [
    path("", desk_views.console, name="console"),
    path("heartbeat", desk_views.heartbeat, name="heartbeat"),
    path("<id:pk>/accept", desk_views.act, {"action": "accept"}, name="accept"),
    path("<id:pk>/transfer", desk_views.act, {"action": "transfer"}, name="transfer"),
    path("<id:pk>/end", desk_views.act, {"action": "end"}, name="end"),
    path("<id:pk>/case", desk_views.to_case, name="case"),
]
