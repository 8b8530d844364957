from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from casedesk.accounts import lockout, policies
from casedesk.accounts.forms import ResetRequestForm
from casedesk.accounts.models import User
from casedesk.accounts.services import zone_of
from casedesk.core.mail import send_templated
from casedesk.core.periodic import periodic
from casedesk.core.ratelimit import attempt
from casedesk.core.retry import RetryableError, RetryPolicy, retrying

logger = logging.getLogger("casedesk.accounts")


@task()
@retrying(RetryPolicy(max_attempts=4, first_delay=timedelta(seconds=20)))
def send_password_reset(email: str) -> None:
    """Mail a reset link to the account with this address, if there is one.

    The web request enqueues this for every address, known or not, so the page
    and its timing say nothing about which addresses have accounts. A link made
    now is what the mail carries; if a mail server is down the retry makes a
    fresh one, still valid for the full PASSWORD_RESET_TIMEOUT.
    """
    form = ResetRequestForm(data={"email": email})
    if not form.is_valid():
        logger.warning("password reset for an invalid address was not sent")
        return
    try:
        form.save(
            domain_override=settings.BASE_URL.split("://", 1)[1],
            use_https=settings.BASE_URL.startswith("https://"),
            subject_template_name="accounts/email/password_reset_subject.txt",
            email_template_name="accounts/email/password_reset.txt",
            html_email_template_name="accounts/email/password_reset.html",
            extra_email_context={
                "base_url": settings.BASE_URL,
                "site_name": settings.OTP_TOTP_ISSUER,
                "lifetime_minutes": str(settings.PASSWORD_RESET_TIMEOUT // 60),
            },
        )
    except (smtplib.SMTPException, OSError) as exc:
        # Django's form logs and swallows send errors since 4.x; a failure that
        # still reaches us is the connection itself: worth another try.
        raise RetryableError(f"could not send the reset mail: {exc}") from exc


@task()
@retrying(RetryPolicy(max_attempts=4, first_delay=timedelta(seconds=20)))
def tell_owner_of_lock(email: str) -> None:
    """Mail the owner of a just-locked account: until when, and how to get back in now.

    Someone guessing at 2 a.m. should not leave the owner to find out at 8 by
    trying to log in. Nothing is sent for an address without an active
    account, nor when the lock has already ended (an agent was quicker).
    """
    person = User.objects.filter(email=email, is_active=True).first()
    lock = lockout.active_lock(email)
    if person is None or lock is None:
        return
    if not attempt(policies.LOCK_MAIL_PER_ADDRESS, email).allowed:
        return
    context = {
        "person": person,
        "until": lock.until,
        "failures": settings.LOCKOUT_FAILURES,
        "site_name": settings.OTP_TOTP_ISSUER,
        "base_url": settings.BASE_URL,
        "support_email": settings.SUPPORT_EMAILS[0],
    }
    try:
        with timezone.override(zone_of(person)):  # "locked until 13:30 CET"
            send_templated("accounts/email/locked", context, [person.email])
    except (smtplib.SMTPException, OSError) as exc:
        raise RetryableError(f"could not send the lock-out mail: {exc}") from exc


@periodic(every=timedelta(hours=1))
@task()
def forget_old_login_failures() -> int:
    """Wrong passwords older than the lock-out window can no longer count: delete them."""
    return lockout.forget_old_failures()
