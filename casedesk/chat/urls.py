from django.urls import path

from casedesk.chat import views

app_name = "chat"
urlpatterns = [
    path("widget/", views.widget, name="widget"),
    path("state", views.state, name="state"),
    path("embed/", views.embed, name="embed"),
    path("embed/signed-in/", views.signed_in, name="signed_in"),
    path("start", views.start, name="start"),
    path("leave", views.leave_message, name="leave"),
    path("<int:pk>/send", views.send, name="send"),
    path("<int:pk>/file", views.send_file, name="send_file"),
    path("<int:pk>/poll", views.poll, name="poll"),
    path("<int:pk>/end", views.end, name="end"),
    path("<int:pk>/leave-case", views.leave_case, name="leave_case"),
    path("<int:pk>/files/<int:message>", views.download, name="file"),
]
