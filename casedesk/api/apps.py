from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "casedesk.api"
    label = "api"
    verbose_name = "API"

    def ready(self) -> None:
        from casedesk.api import schema  # noqa: F401 - registers the schema's auth extension
