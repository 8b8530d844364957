from django.conf import settings
from django.db import migrations, models
from django.utils import timezone


def end_extra_open_chats(apps, schema_editor):
    """Before the constraint: a customer with several open chats (two tabs before this
    migration) keeps the newest; the older ones end."""
    ChatSession = apps.get_model("chat", "ChatSession")
    open_chats = ChatSession.objects.filter(status__in=["waiting", "active"]).order_by(
        "customer_id", "-created_at", "-pk"
    )
    seen = set()
    extra = []
    for chat in open_chats.only("pk", "customer_id"):
        if chat.customer_id in seen:
            extra.append(chat.pk)
        seen.add(chat.customer_id)
    if extra:
        ChatSession.objects.filter(pk__in=extra).update(status="ended", ended_at=timezone.now())


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("cases", "0003_alter_event_kind"),
        ("chat", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(end_extra_open_chats, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="chatsession",
            constraint=models.UniqueConstraint(
                condition=models.Q(("status__in", ["waiting", "active"])),
                fields=("customer",),
                name="chat_one_open_per_customer",
            ),
        ),
    ]
