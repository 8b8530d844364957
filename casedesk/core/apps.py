from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class CoreConfig(AppConfig):
    name = "casedesk.core"
    label = "core"
    verbose_name = "casedesk core"

    def ready(self) -> None:
        # Import every app's tasks.py so @periodic registrations are known to the scheduler.
        autodiscover_modules("tasks")
