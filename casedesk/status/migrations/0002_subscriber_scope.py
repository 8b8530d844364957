"""Subscribers get an explicit scope: "chosen" for those who chose components.

Before, no component chosen meant "everything", so a choice whose components
were all deleted widened to everything. Existing subscribers with components
become "chosen"; those with none stay "all" (which is what they asked for,
unless their components were already deleted: that cannot be told apart now).
"""

from typing import Any

from django.db import migrations, models


def chosen_where_components(apps: Any, schema_editor: Any) -> None:
    subscriber = apps.get_model("status", "Subscriber")
    subscriber.objects.filter(components__isnull=False).update(scope="chosen")


class Migration(migrations.Migration):
    dependencies = [
        ("status", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="subscriber",
            name="scope",
            field=models.CharField(
                choices=[("all", "Everything"), ("chosen", "Chosen components")],
                default="all",
                max_length=8,
            ),
        ),
        migrations.RunPython(chosen_where_components, migrations.RunPython.noop),
    ]
