"""The emergency line's mail to the desk: a call nobody took and nobody could be paged for."""

from __future__ import annotations

import smtplib
from datetime import timedelta

from django.conf import settings
from django_tasks import task

from casedesk.accounts.models import Role, User
from casedesk.core.mail import send_templated
from casedesk.core.retry import RetryableError, RetryPolicy, retrying
from casedesk.phone.models import Call


@task()
@retrying(RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=30)))
def notify_unpaged_call(call_id: int) -> None:
    """Tell every agent that an emergency call reached nobody and no page went out (no
    after-hours coverage in hours, no escalation policy): as the mail channel's
    ``notify_held_critical`` does for a held critical mail."""
    call = Call.objects.select_related("case", "organization").filter(pk=call_id).first()
    if call is None:
        return
    agents = User.objects.filter(role__in=[Role.AGENT, Role.ADMIN], is_active=True)
    recipients = list(agents.values_list("email", flat=True))
    if not recipients:
        return
    try:
        send_templated(
            "phone/email/unpaged_call", {"call": call, "base_url": settings.BASE_URL}, recipients
        )
    except (smtplib.SMTPException, OSError) as exc:
        raise RetryableError(f"could not send the unpaged-call notice: {exc}") from exc
