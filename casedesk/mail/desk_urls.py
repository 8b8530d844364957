from django.urls import path

from casedesk.mail import desk_views

app_name = "mail"
urlpatterns = [
    path("", desk_views.inbox, name="inbox"),
    path("<int:pk>/", desk_views.message_page, name="message"),
    path("<int:pk>/raw/", desk_views.raw, name="raw"),
    # Actions on held mail: POST only, each redirects back to the message.
    path("<int:pk>/assign/", desk_views.assign, name="assign"),
    path("<int:pk>/release/", desk_views.release, name="release"),
    path("<int:pk>/dismiss/", desk_views.dismiss, name="dismiss"),
]
