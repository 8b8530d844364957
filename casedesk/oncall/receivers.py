"""Page on every critical case opened (or raised to critical) while support is closed.

Two hooks, one page (``services.page`` is idempotent per case):

1. Inside the case's own transaction, when ``cases`` records the case's
   ``after_hours_critical`` timeline event: the page, its ``paged`` event and its first
   escalation task commit together with the case, or not at all. So no crash between
   the commit and the page can lose it, and the confirmation mail (a task of the same
   transaction) always finds the page on the timeline and says so.
2. ``critical_case_opened_after_hours``, which ``cases`` sends after the commit: the
   documented hook; it finds the case already paged. ``tasks.sweep_pages`` is the last
   safety net.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from casedesk.cases.models import Case, Event, EventKind
from casedesk.cases.signals import critical_case_opened_after_hours
from casedesk.oncall import services

logger = logging.getLogger("casedesk.oncall")


@receiver(post_save, sender=Event, dispatch_uid="oncall.page_with_the_case")
def page_with_the_case(sender: Any, instance: Event, created: bool, **kwargs: Any) -> None:
    if not created or instance.kind != EventKind.AFTER_HOURS_CRITICAL:
        return
    try:
        with transaction.atomic():  # a savepoint: a paging failure must not lose the case
            services.page(instance.case)
    except Exception:
        logger.exception(
            "could not page for %s; the signal and the sweep try again", instance.case.reference
        )


@receiver(critical_case_opened_after_hours, dispatch_uid="oncall.page_critical_after_hours")
def page_critical_case(sender: Any, case: Case, **kwargs: Any) -> None:
    services.page(case)
