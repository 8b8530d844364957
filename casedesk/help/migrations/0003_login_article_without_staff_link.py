"""The "Logging in" article no longer links customers to the two-factor page (a 403 for
them: two-factor is for staff); an article an admin has edited is left as it is."""

from django.db import migrations

from casedesk.help.seed import LOGIN

# The article's text as 0002 seeded it, to the character.
SEEDED_BODY = """\
Log in on the [log-in page](/accounts/login/) with your **email address** and
your password. There is no separate user name.

# Forgot your password?

1. On the log-in page, choose **Forgot your password?**
   (or go straight to [password reset](/accounts/password_reset/)).
2. Enter the email address you log in with.
3. If that address belongs to an account, we email it a link to choose a new
   password. The page shows the same message whether or not an account
   exists, so nobody can use it to find out who has one.
4. Open the link, choose a new password and log in with it.

The link works for {{ reset_link_lifetime }} and only once; after that, ask for
a new one. We never send passwords by email.

If no email arrives within a few minutes, look in your spam or junk folder and
check that you typed the address you were invited with. To protect your
mailbox, reset emails to one address are limited to {{ reset_emails }}.

Changing your password logs you out everywhere else, for example on a computer
you used once and forgot to log out from.

# Your first log-in

You do not sign up yourself. When you are given access, you receive an
**invitation email** with a link to set your password. The link works for
{{ invite_link_lifetime }}.

If the invitation has expired, you do not need a new one: choose
**Forgot your password?** on the log-in page and enter the address the
invitation was sent to. The email you receive lets you set your password in
the same way.

# Two-factor authentication

Support agents and administrators can protect their account with a second step
at log-in: a code from an authenticator app on their phone.

* **To turn it on**, log in and open [two-factor authentication](/accounts/two-factor/),
  then follow the steps to connect your authenticator app. If your desk requires
  two-factor, you are taken there the first time you log in.
* **When you log in**, enter your password as usual; then enter the 6-digit
  code your app shows. The code changes every 30 seconds: if one is refused,
  wait for the next.
* **If you lose your phone** or replace it, ask an administrator to reset your
  two-factor authentication. You can then log in with your password and
  connect the app on your new phone.

# Locked out?

After {{ lockout_failures }} wrong passwords within {{ lockout_window }}, your
account is locked for {{ lockout_duration }}.
[Locked out of your account](/help/lock-out/) explains why, and how to get back
in straight away.
"""


def forwards(apps, schema_editor):
    Article = apps.get_model("help", "Article")
    Article.objects.filter(slug=LOGIN.slug, body=SEEDED_BODY).update(body=LOGIN.body)


def backwards(apps, schema_editor):
    Article = apps.get_model("help", "Article")
    Article.objects.filter(slug=LOGIN.slug, body=LOGIN.body).update(body=SEEDED_BODY)


class Migration(migrations.Migration):
    dependencies = [("help", "0002_seed_articles")]

    operations = [migrations.RunPython(forwards, backwards)]
