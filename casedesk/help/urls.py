from django.urls import path

from casedesk.help import views

app_name = "help"

urlpatterns = [
    path("", views.index, name="index"),
    path("<slug:slug>/", views.article, name="article"),
]
