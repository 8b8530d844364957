"""Seed the Support schedule (primary and secondary layers) and the Default escalation policy."""

from django.db import migrations

from casedesk.oncall.defaults import seed_oncall


def seed(apps, schema_editor):
    seed_oncall(
        apps.get_model("oncall", "Schedule"),
        apps.get_model("oncall", "Layer"),
        apps.get_model("oncall", "EscalationPolicy"),
        apps.get_model("oncall", "EscalationStep"),
    )


class Migration(migrations.Migration):
    dependencies = [("oncall", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
