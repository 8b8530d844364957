"""Seed the help articles the log-in and lock-out pages link to."""

from django.db import migrations

from casedesk.help.seed import seed_articles


def seed(apps, schema_editor):
    seed_articles(apps.get_model("help", "Article"))


class Migration(migrations.Migration):
    dependencies = [("help", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
