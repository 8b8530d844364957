"""The emergency line's mail to the desk: a call nobody took and nobody could be paged for."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from casedesk.core.retry import RetryPolicy, retrying
from casedesk.mail.tasks import mail_agents
from casedesk.phone.models import Call


@task(queue_name="critical")
@retrying(RetryPolicy(max_attempts=5, first_delay=timedelta(seconds=30)))
def notify_unpaged_call(call_id: int) -> None:
    """Tell every agent that an emergency call reached nobody and no page went out (no
    after-hours coverage in hours, no escalation policy), as the mail channel tells them
    of a held critical mail."""
    call = Call.objects.select_related("case", "organization").filter(pk=call_id).first()
    if call is not None:
        mail_agents("phone/email/unpaged_call", {"call": call}, "the unpaged-call notice")
