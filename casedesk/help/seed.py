"""The help articles casedesk ships with. Everything here is data admins edit in the admin.

Used by the data migration (with the historical model), by demo data and by
tests whose database was flushed. An existing article is never touched, so an
admin's edit survives every migration and every `casedesk demo`. Only fields
that exist since ``help.0001_initial`` are used; when a later migration changes
them, give 0002 its own frozen copy of this module.

Numbers are ``{{ placeholders }}`` (see ``placeholders.py``), so the pages stay
true when an operator changes the lock-out or reset settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# The lock-out message links here (PRODUCT.md, login self-service).
LOCKOUT_SLUG = "lock-out"
LOGIN_SLUG = "login"


@dataclass(frozen=True)
class SeedArticle:
    slug: str
    title: str
    summary: str
    body: str


LOCKOUT = SeedArticle(
    slug=LOCKOUT_SLUG,
    title="Locked out of your account",
    summary=(
        "Why your account is locked after too many wrong passwords, how long it lasts, "
        "and how to get back in straight away."
    ),
    body="""\
If the log-in page says your account is locked, there were too many wrong
passwords for your email address. Your account and your data are safe. This
page explains why it happens, how long it lasts and how to get back in now.

# Why your account is locked

After {{ lockout_failures }} wrong passwords within {{ lockout_window }}, we stop
accepting log-ins for that email address for a while. This protects your
account from someone trying to guess your password: guessing takes thousands of
tries, and the lock stops them after a handful.

You see the same message whether or not the address you typed has an account
with us, so nobody can use the log-in page to find out who our customers are.
If you are sure your password was right, check that you typed the email address
you were invited with.

# How long it lasts

The lock ends by itself {{ lockout_duration }} after it started. While it
lasts, every log-in is refused, even with the right password. Trying again does
not make the lock any longer; it just cannot succeed until the time is up.

# Get back in now: reset your password

You do not have to wait. A password reset unlocks your account at once:

1. On the [log-in page](/accounts/login/), choose **Forgot your password?**
   (or go straight to [password reset](/accounts/password_reset/)).
2. Enter your email address. If it belongs to an account, we email it a link.
3. Open the link and choose a new password. As soon as the new password is
   saved, your account is unlocked and you can log in with it.

The link works for {{ reset_link_lifetime }} and only once; after that, ask for
a new one. If no email arrives within a few minutes, look in your spam or junk
folder. To protect your mailbox, reset emails to one address are limited to
{{ reset_emails }}.

# Someone can unlock you

If a reset does not work for you, for example because you can no longer read
email at that address, a support agent can unlock your account during
[support hours](/hours/), and an administrator can at any time. They will check
who you are first. Unlocking does not change your password: if you have
forgotten it, reset it as above.

# A production emergency? You do not need to log in

If your production use of our product has stopped, or is so badly affected
that nobody can work, do not wait for the lock to end. At any hour, you can:

* email {{ support_email }} with the word **Critical** in the subject line,
  for example "Critical: nobody can log in to our site", or
* call the emergency line, {{ emergency_phone }}, and press 1.

Either way this opens a critical case, and outside support hours it alerts the
on-call engineer at once. Please keep these for real emergencies: for anything
else, reset your password or write to us as usual.
""",
)

LOGIN = SeedArticle(
    slug=LOGIN_SLUG,
    title="Logging in",
    summary=(
        "How to log in, what to do when you forget your password, your first log-in, "
        "and two-factor authentication."
    ),
    body="""\
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

* **To turn it on**, log in, open [your account](/accounts/) and choose **Manage**
  beside "Two-factor log-in", then follow the steps to connect your authenticator
  app. If your desk requires two-factor, you are taken there the first time you
  log in.
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
""",
)

ARTICLES = [LOCKOUT, LOGIN]


def seed_articles(article_model: Any) -> list[str]:
    """Create the shipped articles that are missing; return the slugs created."""
    created_slugs = []
    for article in ARTICLES:
        _, created = article_model.objects.get_or_create(
            slug=article.slug,
            defaults={"title": article.title, "summary": article.summary, "body": article.body},
        )
        if created:
            created_slugs.append(article.slug)
    return created_slugs


def ensure_articles() -> list[str]:
    """`seed_articles` with the current model."""
    from casedesk.help.models import Article

    return seed_articles(Article)
