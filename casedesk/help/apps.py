from django.apps import AppConfig


class HelpConfig(AppConfig):
    name = "casedesk.help"
    label = "help"
    verbose_name = "Help articles"
