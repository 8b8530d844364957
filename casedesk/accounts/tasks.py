from __future__ import annotations

import logging
import smtplib
from datetime import timedelta

from django.conf import settings
from django_tasks import task

from casedesk.accounts import lockout
from casedesk.accounts.forms import ResetRequestForm
from casedesk.core.periodic import periodic
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


@periodic(every=timedelta(hours=1))
@task()
def forget_old_login_failures() -> int:
    """Wrong passwords older than the lock-out window can no longer count: delete them."""
    return lockout.forget_old_failures()
