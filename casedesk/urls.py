from django.contrib import admin
from django.urls import include, path

from casedesk.accounts import views as accounts_views
from casedesk.api import account_views as api_account_views
from casedesk.cases import views as cases_views
from casedesk.core import views as core_views

# One log-in page for everyone, with its rate limits, lock-out page and
# two-factor step: the admin's own log-in form sends people there.
admin.site.login = accounts_views.admin_login  # type: ignore[method-assign,assignment]

urlpatterns = [
    path("", core_views.home, name="home"),
    path("health/", core_views.health, name="health"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("hours/", include("casedesk.hours.urls")),
    # Before help/<slug>/: the priorities page is built from the Priority rows.
    path("help/priorities/", cases_views.priorities, name="priorities"),
    path("help/", include("casedesk.help.urls")),
    path("portal/", include("casedesk.cases.portal_urls")),
    path("desk/mail/", include("casedesk.mail.desk_urls")),
    path("desk/status/", include("casedesk.status.desk_urls")),
    path("desk/oncall/", include("casedesk.oncall.desk_urls")),
    path("desk/chat/", include("casedesk.chat.desk_urls")),
    path("desk/phone/", include("casedesk.phone.desk_urls")),
    path("desk/organizations/", include("casedesk.accounts.desk_urls")),
    path("desk/", include("casedesk.cases.desk_urls")),
    path("status/", include("casedesk.status.urls")),
    path("oncall/", include("casedesk.oncall.urls")),
    path("chat/", include("casedesk.chat.urls")),
    path("phone/", include("casedesk.phone.urls")),
    path(
        "cases/<str:reference>/files/<int:pk>/<str:name>",
        cases_views.download,
        name="case_file",
    ),
    path("api/hours/", include("casedesk.hours.api_urls")),
    path("api/v1/", include("casedesk.api.urls")),
    path("accounts/tokens/", api_account_views.tokens, name="api_tokens"),
    path(
        "accounts/tokens/<int:pk>/revoke/", api_account_views.revoke, name="api_token_revoke"
    ),
    path("accounts/", include("casedesk.accounts.urls")),
    path("admin/", admin.site.urls),
]
