from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "casedesk.chat"
    label = "chat"
    verbose_name = "Live chat"

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from casedesk.chat.services import forget_open_state
        from casedesk.hours.models import Calendar, Holiday, HolidayRule, OpeningInterval

        # /chat/state's shared answer (services.open_now) is forgotten when support
        # hours change, not up to STATE_CACHE_SECONDS later.
        for model in (Calendar, OpeningInterval, HolidayRule, Holiday):
            post_save.connect(
                forget_open_state, sender=model, dispatch_uid=f"chat-{model.__name__}"
            )
            post_delete.connect(
                forget_open_state, sender=model, dispatch_uid=f"chat-{model.__name__}-delete"
            )
