from django.conf import settings
from django.db import migrations, models
from django.db.models import Max
from django.utils import timezone

ENDED_AS_DUPLICATE = "ended: duplicate chat"  # models.ENDED_AS_DUPLICATE


def end_extra_open_chats(apps, schema_editor):
    """Before the constraint: a customer with several open chats (two tabs before this
    migration) keeps one and the others end.

    The one kept is the chat an agent is in (active before waiting), then the one with the
    latest message, then the newest. Each chat ended here says so in a system message.
    One ended with the customer's words in it but no agent stays on every agent's console
    as an unfiled chat (``desk_views._board``) to open a case from; one an agent was in
    stays on that agent's, as every ended chat not yet on a case does."""
    ChatSession = apps.get_model("chat", "ChatSession")
    ChatMessage = apps.get_model("chat", "ChatMessage")
    open_chats = (
        ChatSession.objects.filter(status__in=["waiting", "active"])
        .annotate(last_message=Max("messages__at"))
        .only("pk", "customer_id", "status", "created_at")
    )
    by_customer = {}
    for chat in open_chats:
        by_customer.setdefault(chat.customer_id, []).append(chat)
    extra = []
    for chats in by_customer.values():
        if len(chats) < 2:
            continue
        chats.sort(key=_keep_first)
        extra += [chat.pk for chat in chats[1:]]
    if not extra:
        return
    now = timezone.now()
    ChatSession.objects.filter(pk__in=extra).update(status="ended", ended_at=now)
    ChatMessage.objects.bulk_create(
        ChatMessage(session_id=pk, kind="system", body=ENDED_AS_DUPLICATE, at=now) for pk in extra
    )


def _keep_first(chat):
    """Sort key: the chat to keep sorts first."""
    latest = chat.last_message or chat.created_at
    return (chat.status != "active", -latest.timestamp(), -chat.created_at.timestamp(), -chat.pk)


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
