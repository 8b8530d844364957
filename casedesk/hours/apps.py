from django.apps import AppConfig


class HoursConfig(AppConfig):
    name = "casedesk.hours"
    label = "hours"
    verbose_name = "Support hours"

    def ready(self) -> None:
        from casedesk.hours import signals  # noqa: F401 - connects the cache invalidation
