from django.urls import URLPattern

app_name = "phone_desk"
urlpatterns: list[URLPattern] = []
