"""Seed the priorities of the default support policy."""

from django.db import migrations

from casedesk.cases.defaults import seed_priorities


def seed(apps, schema_editor):
    seed_priorities(apps.get_model("cases", "Priority"))


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
