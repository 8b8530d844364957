from django.apps import AppConfig


class OncallConfig(AppConfig):
    name = "casedesk.oncall"
    label = "oncall"
    verbose_name = "On call"

    def ready(self) -> None:
        # Page on every critical case opened after hours; register the escalation tasks.
        # The system check warns when paging by SMS and voice cannot work.
        from casedesk.oncall import checks, receivers, tasks  # noqa: F401
