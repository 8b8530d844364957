from django.apps import AppConfig


class StatusConfig(AppConfig):
    name = "casedesk.status"
    label = "status"
    verbose_name = "Status page"

    def ready(self) -> None:
        # Register the maintenance tasks and the periodic safety-net sweep.
        from casedesk.status import signals, tasks  # noqa: F401
