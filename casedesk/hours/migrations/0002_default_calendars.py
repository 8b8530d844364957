"""Seed the default support calendar and the 24x7 clock of critical cases."""

from django.db import migrations

from casedesk.hours.defaults import seed_calendars


def seed(apps, schema_editor):
    seed_calendars(
        apps.get_model("hours", "Calendar"),
        apps.get_model("hours", "OpeningInterval"),
        apps.get_model("hours", "HolidayRule"),
    )


class Migration(migrations.Migration):
    dependencies = [("hours", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
