from django.urls import path

from casedesk.cases import portal_views

app_name = "portal"
urlpatterns = [
    path("", portal_views.case_list, name="home"),
    path("new/", portal_views.new_case, name="new"),
    path("cases/<str:reference>/", portal_views.case_page, name="case"),
    path("cases/<str:reference>/opened/", portal_views.opened, name="opened"),
    path("cases/<str:reference>/reply/", portal_views.reply, name="reply"),
]
