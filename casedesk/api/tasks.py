from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from casedesk.api import idempotency
from casedesk.core.periodic import periodic


@periodic(every=timedelta(hours=1))
@task()
def forget_idempotency_keys() -> int:
    """Idempotency keys older than a day can no longer be replayed: delete them."""
    return idempotency.forget_old()
