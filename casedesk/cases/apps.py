from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "casedesk.cases"
    label = "cases"
    verbose_name = "Cases"

    def ready(self) -> None:
        # Register the SLA tasks and the periodic safety-net sweep.
        from casedesk.cases import tasks  # noqa: F401
