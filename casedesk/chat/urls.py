from django.urls import path

from casedesk.chat import views
from casedesk.lib import ids  # noqa: F401  (registers <id:...>)

app_name = "chat"
urlpatterns = [
    path("widget/", views.widget, name="widget"),
    path("state", views.state, name="state"),
    path("embed/", views.embed, name="embed"),
    path("embed/signed-in/", views.signed_in, name="signed_in"),
    path("start", views.start, name="start"),
    path("leave", views.leave_message, name="leave"),
    path("<id:pk>/send", views.send, name="send"),
    path("<id:pk>/file", views.send_file, name="send_file"),
    path("<id:pk>/poll", views.poll, name="poll"),
    path("<id:pk>/end", views.end, name="end"),
    path("<id:pk>/leave-case", views.leave_case, name="leave_case"),
    path("<id:pk>/files/<id:message>", views.download, name="file"),
]
