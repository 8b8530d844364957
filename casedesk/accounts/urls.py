"""Under /accounts/, with Django's standard URL names (login, password_reset, ...)."""

from django.urls import path

from casedesk.accounts import two_factor, views

urlpatterns = [
    path("", views.account, name="account"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password_change/", views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password_change/done/",
        views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password_reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path("password_reset/done/", views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("reset/done/", views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("invite/<uidb64>/<token>/", views.InviteConfirmView.as_view(), name="invite_confirm"),
    path("locked/", views.locked_accounts, name="locked_accounts"),
    path("locked/unlock/", views.unlock_account, name="unlock_account"),
    path("locked/send-reset/", views.send_reset_link, name="send_reset_link"),
    path("two-factor/", two_factor.setup, name="two_factor"),
    path("two-factor/verify/", two_factor.verify, name="two_factor_verify"),
    path("two-factor/disable/", two_factor.disable, name="two_factor_disable"),
]
