from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "casedesk.oncall"
    label = "oncall"
    verbose_name = "On call"

    def ready(self) -> None:
        # Page on every critical case opened after hours; register the escalation tasks.
        from casedesk.oncall import receivers, tasks  # noqa: F401
