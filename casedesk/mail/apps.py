from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "casedesk.mail"
    label = "mail"
    verbose_name = "Inbound email"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from casedesk.mail import tasks  # noqa: F401  (registers the periodic sweep)
