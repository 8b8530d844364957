from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "casedesk.chat"
    label = "chat"
    verbose_name = "Live chat"
