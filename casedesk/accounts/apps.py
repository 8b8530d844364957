from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "casedesk.accounts"
    label = "accounts"
    verbose_name = "Accounts"
