from django.apps import AppConfig


class MailConfig(AppConfig):
    name = "casedesk.mail"
    label = "mail"
    verbose_name = "Inbound email"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.core import checks

        from casedesk.mail import tasks  # noqa: F401  (registers the periodic sweep)
        from casedesk.mail.imap import check_mailboxes

        # A bad CASEDESK_IMAP_MAILBOXES URL is reported at start-up and by `casedesk check`.
        checks.register(check_mailboxes)
